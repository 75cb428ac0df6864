package gostrap

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/mirrortest"
)

// Go without Go (issue 15), with the real binaries: a dist-built gostrap makes a bundle, which
// carries gostrap rebuilt from its own source (the same bytes as dist's); install.sh from the
// bundle, under dash and busybox sh, in an empty environment with no go on PATH and no network,
// installs Go and the installed go runs; the same from a served mirror tree over loopback; a
// tampered gostrap or SHA256SUMS is refused with nothing installed.
func TestInstallScriptWithoutGo(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds gostrap with dist and drives it in child processes (-short, -race)")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the scripts are driven on linux/amd64")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build gostrap with")
	}
	s := mirrortest.Start(t, fixture)
	host := dist.Platform{OS: "linux", Arch: "amd64"}
	distDir, _ := disttest.Dist(t, host)
	bin := filepath.Join(distDir, filepath.FromSlash(host.Path()))
	tmp := t.TempDir()
	// The fixture's proxy serves the toolchains; gostrap's dependencies, which it fetches to
	// rebuild itself, come from this machine's module cache (a 404 falls through the ",").
	goproxy := s.ProxyURL() + "," + disttest.Options(t).GOPROXY
	// The rebuild compiles with this machine's build cache, as dist did: an empty one (HOME
	// is a fresh directory) cost about 35 s of compiling the standard library, and the build
	// from an empty cache giving the same bytes is internal/dist's TestReproducible.
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	env := procEnv(s, filepath.Join(tmp, "go"), filepath.Join(tmp, "cache"), "GOPROXY="+goproxy, "GOSTRAP_QUIET=",
		"GOCACHE="+strings.TrimSpace(string(gocache)))

	bundle := filepath.Join(tmp, "bundle")
	start := time.Now()
	out, err := runProc(env, bin, "bundle", "create", "--out", bundle, "--version", "1.22.3", "--platform", "linux/amd64")
	if err != nil {
		t.Fatalf("bundle create: %v\n%s", err, out)
	}
	t.Logf("bundle create, gostrap rebuilt from its own source for linux/amd64: %v", time.Since(start).Round(100*time.Millisecond))
	carried, err := os.ReadFile(filepath.Join(bundle, "gostrap", filepath.FromSlash(host.Path())))
	if err != nil {
		t.Fatalf("the bundle carries no gostrap: %v\n%s", err, out)
	}
	built, _ := os.ReadFile(bin)
	if !bytes.Equal(carried, built) {
		t.Fatalf("the rebuilt gostrap differs from dist's (%d and %d bytes)", len(carried), len(built))
	}
	for _, f := range []string{"install.sh", "install.ps1", "gostrap/SHA256SUMS"} {
		if _, err := os.Stat(filepath.Join(bundle, f)); err != nil {
			t.Fatalf("the bundle lacks %s", f)
		}
	}
	if out, err := runProc(env, bin, "bundle", "verify", bundle); err != nil {
		t.Fatalf("bundle verify: %v\n%s", err, out)
	}

	// An empty environment: no go on PATH, nothing but the fixture's key for the proofs.
	clean := func(dir string) []string {
		return []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GOSUMDB=" + s.GOSUMDB(), "TMPDIR=" + t.TempDir()}
	}
	noNet := func(args ...string) []string { return args }
	if os.Getuid() == 0 {
		if err := exec.Command("unshare", "-n", "true").Run(); err == nil {
			noNet = func(args ...string) []string { return append([]string{"unshare", "-n"}, args...) }
		}
	}
	var shells [][]string
	if _, err := exec.LookPath("dash"); err == nil {
		shells = append(shells, []string{"dash"})
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{bb, "sh"})
	} else {
		t.Log("busybox is not installed: install.sh runs under dash only (apt-get install -y busybox)")
	}
	if len(shells) == 0 {
		t.Skip("neither dash nor busybox")
	}
	run := func(argv []string, env []string) (string, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		return b.String(), err
	}
	goVersion := func(dir string) {
		t.Helper()
		out, err := run([]string{filepath.Join(dir, "go1.22.3", "bin", "go"), "version"}, clean(dir))
		if err != nil || !strings.Contains(out, "go version go1.22.3 linux/amd64") {
			t.Fatalf("the installed go: %v\n%s", err, out)
		}
	}
	for _, sh := range shells {
		t.Run(filepath.Base(sh[0]), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "go")
			start := time.Now()
			out, err := run(noNet(append(sh, filepath.Join(bundle, "install.sh"), "1.22.3", "--dir", dir)...), clean(t.TempDir()))
			if err != nil {
				t.Fatalf("install.sh: %v\n%s", err, out)
			}
			goVersion(dir)
			t.Logf("%s install.sh to a working go version, no network: %v", sh[0], time.Since(start).Round(10*time.Millisecond))
			if !strings.Contains(out, "export PATH=") {
				t.Errorf("no PATH line:\n%s", out)
			}
		})
	}

	// A tampered gostrap, then a tampered SHA256SUMS: refused, nothing installed.
	for _, tc := range []struct{ name, file string }{
		{"tampered gostrap", filepath.Join("gostrap", filepath.FromSlash(host.Path()))},
		{"tampered SHA256SUMS", filepath.Join("gostrap", "SHA256SUMS")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyDir := filepath.Join(t.TempDir(), "bundle")
			copyTree(t, bundle, copyDir)
			p := filepath.Join(copyDir, tc.file)
			data, _ := os.ReadFile(p)
			if strings.HasSuffix(tc.file, "SHA256SUMS") {
				data = bytes.Replace(data, data[:8], []byte("00000000"), 1)
			} else {
				data = mirrortest.Flip(data, len(data)/2)
			}
			os.WriteFile(p, data, 0o755)
			dir := filepath.Join(t.TempDir(), "go")
			out, err := run(noNet(shells[0][0], filepath.Join(copyDir, "install.sh"), "1.22.3", "--dir", dir), clean(t.TempDir()))
			if err == nil {
				t.Fatalf("install.sh succeeded:\n%s", out)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatal("something was installed")
			}
			t.Logf("%s: %s", tc.name, strings.TrimSpace(out))
		})
	}

	// A fleet tree served over loopback: curl | sh.
	t.Run("served tree", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl (apt-get install -y curl)")
		}
		tree := filepath.Join(tmp, "tree")
		out, err := runProc(env, bin, "mirror", "sync", "--out", tree, "--version", "1.22.3", "--platform", "linux/amd64")
		if err != nil {
			t.Fatalf("mirror sync: %v\n%s", err, out)
		}
		url := disttest.Serve(t, tree)
		dir := filepath.Join(t.TempDir(), "go")
		script := "curl -fsSL " + url + "/install.sh | GOSTRAP_TREE=" + url + " dash -s -- 1.22.3 --dir " + dir
		start := time.Now()
		out, err = run([]string{"dash", "-c", script}, clean(t.TempDir()))
		if err != nil {
			t.Fatalf("curl | sh: %v\n%s", err, out)
		}
		goVersion(dir)
		t.Logf("curl | sh from a served tree to a working go version: %v", time.Since(start).Round(10*time.Millisecond))
	})
}
