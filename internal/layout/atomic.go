package layout

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes data to a temporary file beside path, syncs it, and renames it into place,
// so that a reader never sees a half-written file and a crash leaves the old one. The rename is
// retried while Windows refuses it because a reader has the old file open.
func WriteFile(path string, data []byte, perm fs.FileMode) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return Rename(f.Name(), path)
}

// FileURL is the file URL of an absolute path, as RFC 8089 writes it: file:///home/ann/x,
// file:///C:/Users/ann/x (not file://C:/..., whose host would be "C:"), and for a UNC path
// \\host\share\x, file://host/share/x. Spaces and the like are percent-encoded.
func FileURL(path string) string {
	s := filepath.ToSlash(path)
	u := url.URL{Scheme: "file"}
	switch {
	case strings.HasPrefix(s, "//"):
		host, rest, _ := strings.Cut(s[2:], "/")
		u.Host, u.Path = host, "/"+rest
	case strings.HasPrefix(s, "/"):
		u.Path = s
	default:
		u.Path = "/" + s
	}
	return u.String()
}
