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
