package mirror

import (
	"strings"
	"testing"
)

const sampleIndex = `[
 {"version": "go1.22.3", "stable": true, "files": [
  {"filename": "go1.22.3.linux-amd64.tar.gz", "os": "linux", "arch": "amd64", "version": "go1.22.3",
   "sha256": "8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36", "size": 68958123, "kind": "archive"},
  {"filename": "go1.22.3.linux-armv6l.tar.gz", "os": "linux", "arch": "armv6l", "version": "go1.22.3",
   "sha256": "fb7ebe3d2c1b8a1bda4a0e0a3c5f7d2c4b0b2a4d1c3e5f7a9b0c2d4e6f8a0b1c", "size": 64000000, "kind": "archive"},
  {"filename": "go1.22.3.darwin-amd64.tar.gz", "os": "linux", "arch": "amd64", "version": "go1.22.3",
   "sha256": "1111111111111111111111111111111111111111111111111111111111111111", "size": 1, "kind": "archive"},
  {"filename": "../../etc/passwd", "os": "linux", "arch": "arm64", "version": "go1.22.3",
   "sha256": "1111111111111111111111111111111111111111111111111111111111111111", "size": 1, "kind": "archive"},
  {"filename": "go1.22.3.windows-amd64.zip", "os": "windows", "arch": "amd64", "version": "go1.22.3",
   "sha256": "not-hex", "size": 1, "kind": "archive"}
 ]},
 {"version": "go1.23rc1", "stable": true, "files": []},
 {"version": "gonext", "stable": true, "files": []}
]`

func TestParseIndex(t *testing.T) {
	rs, err := ParseIndex([]byte(sampleIndex))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d releases, want 2 (gonext dropped)", len(rs))
	}
	if rs[1].Stable {
		t.Error("a release candidate marked stable by the index is not believed stable")
	}
	f, ok := rs[0].Archive(Platform{"linux", "amd64"})
	if !ok || f.Filename != "go1.22.3.linux-amd64.tar.gz" {
		t.Fatalf("linux/amd64: %v %v", f, ok)
	}
	if f, ok := rs[0].Archive(Platform{"linux", "arm"}); !ok || f.Arch != "armv6l" {
		t.Errorf("linux/arm: %v %v", f, ok)
	}
	if _, ok := rs[0].Archive(Platform{"linux", "arm64"}); ok {
		t.Error("a file name with a path was accepted")
	}
	if _, ok := rs[0].Archive(Platform{"windows", "amd64"}); ok {
		t.Error("a malformed sha256 was accepted")
	}
	if _, err := ParseIndex([]byte("<html>")); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("HTML parsed as an index: %v", err)
	}
}
