package winetest_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/dist/winetest"
)

func TestMain(m *testing.M) { os.Exit(winetest.Main(m)) }

// TestGostrapVersion runs a dist-built windows/amd64 gostrap.exe under wine.
func TestGostrapVersion(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("wine runs on Linux")
	}
	w := winetest.Require(t)
	if w.Created > 0 {
		t.Logf("wine prefix made in %v", w.Created.Round(time.Millisecond))
	}
	out, res := disttest.Dist(t, dist.Platform{OS: "windows", Arch: "amd64"})
	exe := filepath.Join(out, "windows-amd64", "gostrap.exe")
	start := time.Now()
	got, err := w.Command(exe, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("gostrap.exe version under wine: %v\n%s", err, got)
	}
	t.Logf("gostrap.exe version (%v):\n%s", time.Since(start).Round(time.Millisecond), got)
	lines := strings.Split(strings.ReplaceAll(string(got), "\r\n", "\n"), "\n")
	if lines[0] != "gostrap "+res.Version || !strings.Contains(string(got), res.Sum) || !strings.Contains(string(got), "windows/amd64") {
		t.Errorf("gostrap.exe version:\n%s\nwant version %s, sum %s, windows/amd64", got, res.Version, res.Sum)
	}
}

// TestProbe runs testdata/probe under wine and logs what wine can and cannot do; it fails only
// when the probe cannot run at all.
func TestProbe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("wine runs on Linux")
	}
	w := winetest.Require(t)
	exe := winetest.BuildExe(t, ".", "./testdata/probe")
	out, err := w.Command(exe).CombinedOutput()
	t.Logf("probe under wine:\n%s", out)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	for _, want := range []string{"rename-file-over-file: ok", "lockfileex: ok", "http-loopback: ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("probe: want %q", want)
		}
	}
}
