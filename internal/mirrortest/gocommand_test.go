package mirrortest

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/mirror"
)

// TestGoCommand: the stand-in answers 'go version' for the tree it is in, and a fixture made
// with it carries it in the release archive and the module zip.
func TestGoCommand(t *testing.T) {
	bin, err := BuildGoCommand(Host)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "go1.22.3")
	name := "go"
	if Host.OS == "windows" {
		name += ".exe"
	}
	exe := filepath.Join(root, "bin", name)
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(filepath.Join(root, "VERSION"), []byte("go1.22.3\ntime 2024-05-01T00:00:00Z\n"), 0o644)
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "version").Output()
	if want := "go version go1.22.3 " + Host.String() + "\n"; err != nil || string(out) != want {
		t.Errorf("go version: %q, %v; want %q", out, err, want)
	}

	win := mirror.Platform{OS: "windows", Arch: "amd64"}
	wbin, err := BuildGoCommand(win)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wbin, []byte("MZ")) {
		t.Errorf("windows go.exe does not start with MZ")
	}
	f, err := New(Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{win}, GoCommand: map[mirror.Platform][]byte{win: wbin}})
	if err != nil {
		t.Fatal(err)
	}
	zdata := f.Archives[win.ArchiveName("go1.22.3")]
	zr, err := zip.NewReader(bytes.NewReader(zdata), int64(len(zdata)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, zf := range zr.File {
		if zf.Name == "go/bin/go.exe" {
			rc, _ := zf.Open()
			got, _ := io.ReadAll(rc)
			rc.Close()
			found = bytes.Equal(got, wbin)
		}
	}
	if !found {
		t.Error("the archive's go/bin/go.exe is not the stand-in")
	}
	if !strings.Contains(string(f.ModZips[win.ToolchainVersion("go1.22.3")]), "bin/go.exe") {
		t.Error("the module zip has no bin/go.exe")
	}
}
