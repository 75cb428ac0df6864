package verify

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// Hashes collects the sha256 of each file of a tree as it is written, so the tree's h1 is known
// when extraction ends, without a second pass over the files. Safe for concurrent use.
type Hashes struct {
	mu    sync.Mutex
	files map[string][sha256.Size]byte
}

// Add records the digest of the file at name (slash-separated). A name recorded twice is an
// error: a tree cannot hold two files of one name, and a module zip that does is invalid.
func (h *Hashes) Add(name string, sum []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.files == nil {
		h.files = map[string][sha256.Size]byte{}
	}
	if _, dup := h.files[name]; dup {
		return fmt.Errorf("%s: file listed twice", name)
	}
	h.files[name] = [sha256.Size]byte(sum)
	return nil
}

// Len is the number of files recorded.
func (h *Hashes) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.files)
}

// H1 is the golang.org/x/mod/sumdb/dirhash Hash1 of the recorded files under their names: the
// base64 sha256 of the lines "<hex sha256>  <name>\n" in sorted name order. dirhash.Hash1 computes
// the same from the contents; it is restated here, gostrap's one h1 implementation, because the
// contents were hashed already while being written (the tests check the two agree).
func (h *Hashes) H1() (string, error) { return h.H1Prefixed("") }

// H1Prefixed is H1 with prefix put before every name (a module zip's "path@version/").
func (h *Hashes) H1Prefixed(prefix string) (string, error) {
	return h.h1(func(name string) (string, bool) { return prefix + name, true })
}

// ToolchainH1 is the h1 the checksum database records for the golang.org/toolchain module
// built from a release tree whose files were recorded relative to its root (bin/go,
// src/go.mod, ...). See ToolchainName for the mapping.
func (h *Hashes) ToolchainH1(modVersion string) (string, error) {
	prefix := ToolchainModule + "@" + modVersion + "/"
	return h.h1(func(name string) (string, bool) {
		n, ok := ToolchainName(name)
		return prefix + n, ok
	})
}

func (h *Hashes) h1(rename func(string) (string, bool)) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	type entry struct {
		name string
		sum  [sha256.Size]byte
	}
	entries := make([]entry, 0, len(h.files))
	for name, sum := range h.files {
		n, ok := rename(name)
		if !ok {
			continue
		}
		if strings.Contains(n, "\n") {
			return "", fmt.Errorf("file name with a newline: %q", n)
		}
		entries = append(entries, entry{n, sum})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	sum := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(sum, "%x  %s\n", e.sum, e.name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(sum.Sum(nil)), nil
}

// omittedFromModule are the top-level directories of a release that the toolchain module
// leaves out (cmd/distpack, and x/build's dl2mod for older releases).
var omittedFromModule = []string{".github", "api", "doc", "misc", "test"}

// OmittedFromModule reports whether a release file (relative to the Go root) is left out of
// the golang.org/toolchain module, and so is not covered by its checksum.
func OmittedFromModule(rel string) bool {
	top, _, _ := strings.Cut(rel, "/")
	return slices.Contains(omittedFromModule, top)
}

// OmittedDirs lists the top-level directories OmittedFromModule is true for.
func OmittedDirs() []string { return slices.Clone(omittedFromModule) }

// ToolchainName maps a release file (relative to the Go root) to its name inside the toolchain
// module: every go.mod becomes _go.mod (so the module holds no nested modules), and files under
// the omitted top-level directories have no name.
func ToolchainName(rel string) (string, bool) {
	if OmittedFromModule(rel) {
		return "", false
	}
	if path.Base(rel) == "go.mod" {
		return path.Join(path.Dir(rel), "_go.mod"), true
	}
	return rel, true
}

// ReleaseName is the inverse of ToolchainName for a module file name without its prefix.
func ReleaseName(modName string) string {
	if path.Base(modName) == "_go.mod" {
		return path.Join(path.Dir(modName), "go.mod")
	}
	return modName
}

// ZipH1 is the h1 of a module zip of size bytes read through ra: dirhash.HashZip, with a zip
// that names one file twice refused.
func ZipH1(ra io.ReaderAt, size int64) (string, error) {
	hs, err := zipHashes(ra, size, func(name string) (string, error) { return name, nil })
	if err != nil {
		return "", err
	}
	return hs.H1()
}

// zipHashes hashes every file of a zip under the name rename gives it.
func zipHashes(ra io.ReaderAt, size int64, rename func(string) (string, error)) (*Hashes, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, err
	}
	hs := &Hashes{}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		name, err := rename(zf.Name)
		if err != nil {
			return nil, err
		}
		if !zf.Mode().IsRegular() {
			return nil, fmt.Errorf("zip entry %q is not a regular file", zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		if err := hs.Add(name, h.Sum(nil)); err != nil {
			return nil, err
		}
	}
	return hs, nil
}

// ArchiveH1 is the h1 of the golang.org/toolchain module version module that a release archive
// (tar.gz, files under go/) maps to, computed from the archive's contents without writing
// them anywhere.
func ArchiveH1(r io.Reader, module string) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	var hs Hashes
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		rel, ok := strings.CutPrefix(h.Name, "go/")
		if h.Typeflag != tar.TypeReg || !ok || !fs.ValidPath(rel) {
			return "", fmt.Errorf("archive entry %q is not a file under go/", h.Name)
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			return "", err
		}
		if err := hs.Add(rel, sum.Sum(nil)); err != nil {
			return "", err
		}
	}
	return hs.ToolchainH1(module)
}

// ZipArchiveH1 is ArchiveH1 for a release archive that is a zip (Windows).
func ZipArchiveH1(ra io.ReaderAt, size int64, module string) (string, error) {
	hs, err := zipHashes(ra, size, func(name string) (string, error) {
		rel, ok := strings.CutPrefix(name, "go/")
		if !ok || !fs.ValidPath(rel) {
			return "", fmt.Errorf("archive entry %q is not a file under go/", name)
		}
		return rel, nil
	})
	if err != nil {
		return "", err
	}
	return hs.ToolchainH1(module)
}
