package offline_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/offline"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	archive := strings.Repeat("x", 1000)
	os.WriteFile(filepath.Join(dir, "go1.22.3.linux-amd64.tar.gz"), []byte(archive), 0o644)
	os.WriteFile(filepath.Join(dir, "index.json"), []byte("[]\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".tmp"), 0o755)
	os.WriteFile(filepath.Join(dir, ".tmp", "x.partial"), []byte("partial"), 0o644)
	m := offline.Manifest{Format: offline.Format, SumDB: "sum.test", Files: []offline.File{
		{Path: "go1.22.3.linux-amd64.tar.gz", Size: 1000, SHA256: strings.Repeat("ab", 32)},
	}}
	data, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(dir, offline.ManifestName), data, 0o644)
	srv := httptest.NewServer(offline.Handler(dir))
	defer srv.Close()

	get := func(path string, h http.Header) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("/go1.22.3.linux-amd64.tar.gz", nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.ContentLength != 1000 || etag != `"`+strings.Repeat("ab", 16)+`"` {
		t.Fatalf("GET: %d, length %d, etag %q", resp.StatusCode, resp.ContentLength, etag)
	}
	resp = get("/go1.22.3.linux-amd64.tar.gz", http.Header{"Range": {"bytes=600-"}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || len(body) != 400 || resp.Header.Get("Content-Range") != "bytes 600-999/1000" {
		t.Fatalf("Range: %d %d %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}
	if resp := get("/go1.22.3.linux-amd64.tar.gz", http.Header{"If-None-Match": {etag}}); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	resp = get("/?mode=json&include=all", nil)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "[]\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("index: %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/", "/.tmp/x.partial", "/../etc/passwd", "/nothing"} {
		if resp := get(p, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

// mirror serve never leaves its tree and never follows a symbolic link, whether it points out
// of the tree or into it; and a manifest it cannot parse costs the ETags, nothing more.
func TestHandlerRefusesLinksAndBadManifests(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.json"), []byte("[]\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "golang.org"), 0o755)
	os.WriteFile(filepath.Join(dir, "golang.org", "list"), []byte("v1\n"), 0o644)
	for link, target := range map[string]string{
		"escape":           filepath.Join(outside, "secret"),
		"escape-dir":       outside,
		"relative":         "../" + filepath.Base(outside) + "/secret",
		"inside":           "index.json",
		"golang.org/list2": "list",
		"linked-dir":       "golang.org",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Skip("no symlinks here:", err)
		}
	}
	// A manifest whose digest is too short to make an ETag of.
	os.WriteFile(filepath.Join(dir, offline.ManifestName), []byte(`{"format":"`+offline.Format+`","sumdb":"sum.test",`+
		`"files":[{"path":"index.json","size":3,"sha256":"ab"}]}`), 0o644)
	srv := httptest.NewServer(offline.Handler(dir))
	defer srv.Close()
	for _, p := range []string{"/escape", "/escape-dir/secret", "/relative", "/inside", "/golang.org/list2", "/linked-dir/list"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || strings.Contains(string(body), "secret") {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/index.json", "/golang.org/list"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != "" {
			t.Errorf("%s: %d, ETag %q", p, resp.StatusCode, resp.Header.Get("ETag"))
		}
	}
}
