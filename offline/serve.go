package offline

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Handler serves a tree over HTTP, for a quick LAN share (`gostrap mirror serve`): static files
// with Range, Content-Length, Last-Modified and an ETag from the manifest's sha256, and
// "?mode=json" on the root answered with index.json, as go.dev answers it. Clients point
// --official (or --mirror, or GOPROXY) at it. Directory listings are not served.
func Handler(dir string) http.Handler {
	h := &server{dir: dir}
	return h
}

type server struct {
	dir  string
	mu   sync.Mutex
	mod  time.Time
	etag map[string]string
}

// etags reads the manifest's digests, again when it changes (a mirror sync under way). A
// manifest that does not parse gives no ETags, and is not read again until it changes.
func (s *server) etags() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(filepath.Join(s.dir, ManifestName))
	if err != nil {
		return nil
	}
	if st.ModTime().Equal(s.mod) && s.etag != nil {
		return s.etag
	}
	data, err := os.ReadFile(filepath.Join(s.dir, ManifestName))
	if err != nil {
		return s.etag
	}
	m, err := ParseManifest(data)
	s.etag, s.mod = map[string]string{}, st.ModTime()
	if err != nil {
		return s.etag
	}
	for _, f := range m.Files {
		s.etag[f.Path] = `"` + f.SHA256[:32] + `"`
	}
	return s.etag
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if p == "" || strings.HasSuffix(r.URL.Path, "/") {
		if r.URL.Query().Get("mode") == "json" {
			p = IndexPath
		} else {
			http.Error(w, "gostrap mirror: see index.json", http.StatusNotFound)
			return
		}
	}
	if strings.HasPrefix(p, ".") || strings.Contains(p, "/.") {
		http.NotFound(w, r)
		return
	}
	f, st, err := s.open(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if et, ok := s.etags()[p]; ok {
		w.Header().Set("ETag", et)
	}
	switch {
	case strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".info"):
		w.Header().Set("Content-Type", "application/json")
	case strings.HasSuffix(p, ".sha256") || strings.HasSuffix(p, ".mod") || strings.HasSuffix(p, "/list"):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, p, st.ModTime(), f)
}

// open opens the tree file p (slash-separated, local) for serving, and returns what it is. It
// never leaves the tree and never follows a symbolic link: every element of the path is checked
// with Lstat inside an os.Root, which itself refuses any path that resolves outside the
// directory.
func (s *server) open(p string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	elems := strings.Split(p, "/")
	var last fs.FileInfo
	for i := range elems {
		st, err := root.Lstat(strings.Join(elems[:i+1], "/"))
		if err != nil {
			return nil, nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return nil, nil, fs.ErrNotExist
		}
		last = st
	}
	f, err := root.Open(p)
	if err != nil {
		return nil, nil, err
	}
	// A link swapped in between the checks and the open is caught here.
	st, err := f.Stat()
	if err != nil || !os.SameFile(st, last) {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, st, nil
}
