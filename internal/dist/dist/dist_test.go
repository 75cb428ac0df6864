package dist_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"github.com/gostrap/gostrap/internal/dist/disttest"
)

var (
	linuxAMD64   = dist.Platform{OS: "linux", Arch: "amd64"}
	windowsAMD64 = dist.Platform{OS: "windows", Arch: "amd64"}
)

func archiveNames(t *testing.T, a []byte, version string) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, dist.ModulePath+"@"+version+"/")
		if !ok {
			t.Fatalf("archive entry %q outside the module", f.Name)
		}
		names = append(names, name)
	}
	return names
}

// TestSourceArchive checks what the source archive holds, and that it is a fixed point:
// extracted and archived again, it is the same bytes.
func TestSourceArchive(t *testing.T) {
	ctx := context.Background()
	o := disttest.Options(t)
	a, err := dist.SourceArchive(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	names := archiveNames(t, a, o.Version)
	t.Logf("source archive: %d files, %d bytes", len(names), len(a))
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
		switch {
		case strings.HasSuffix(n, "_test.go"), strings.Contains("/"+n, "/testdata/"), strings.HasPrefix(n, "bench/"),
			strings.HasPrefix(n, "internal/mirrortest/"), strings.HasPrefix(n, "internal/testnet/"), strings.HasPrefix(n, "internal/dist/winetest/"),
			strings.HasPrefix(n, "internal/dist/disttest/"), n == "internal/dist/main.go", n == dist.ArchivePath,
			strings.HasSuffix(n, ".md"):
			t.Errorf("archive holds %s", n)
		}
	}
	for _, n := range []string{"go.mod", "go.sum", "cmd/gostrap/main.go", "cmd/gostrap/signal_unix.go", "gostrap.go",
		"download/fetch.go", "internal/dist/dist/build.go", "internal/dist/src/src.go",
		"internal/dist/scripts/install.sh", "internal/dist/scripts/install.ps1"} {
		if !has[n] {
			t.Errorf("archive lacks %s", n)
		}
	}

	dir := filepath.Join(t.TempDir(), "elsewhere", "gostrap")
	if err := dist.Extract(a, dir); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(dist.ArchivePath))); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("Extract did not put the archive at %s: %v", dist.ArchivePath, err)
	}
	o2 := o
	o2.ModuleDir = dir
	a2, err := dist.SourceArchive(ctx, o2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, a2) {
		t.Errorf("the archive of the extracted source differs from the original (%d and %d bytes)", len(a), len(a2))
	}
	if err := dist.Extract(a, dir); err == nil {
		t.Errorf("Extract into a non-empty directory succeeded")
	}
	if v, err := dist.ArchiveVersion(a); err != nil || v != o.Version {
		t.Errorf("ArchiveVersion = %q, %v", v, err)
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil.go", "a/../../evil.go"} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.Create(dist.ModulePath + "@v0.0.0-test/go.mod")
		w, _ := zw.Create(dist.ModulePath + "@v0.0.0-test/" + name)
		w.Write([]byte("package evil\n"))
		zw.Close()
		parent := t.TempDir()
		if err := dist.Extract(buf.Bytes(), filepath.Join(parent, "m")); err == nil {
			t.Errorf("%s: extracted", name)
		}
		if _, err := os.Stat(filepath.Join(parent, "evil.go")); err == nil {
			t.Errorf("%s: written outside the directory", name)
		}
	}
	if err := dist.Extract([]byte("not a zip"), t.TempDir()); err == nil {
		t.Errorf("garbage extracted")
	}
}

// TestReproducible builds linux/amd64 and windows/amd64 from this checkout with the machine's
// build cache, then from the source archive extracted elsewhere (the path gostrap takes to rebuild
// itself) with an empty build cache into another directory, and wants the same bytes; then runs
// the linux binary's 'gostrap version' against its build information.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gostrap twice, once with an empty build cache (about a minute on 2 cores)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ps := []dist.Platform{linuxAMD64, windowsAMD64}

	start := time.Now()
	o1 := disttest.Options(t)
	o1.Out = filepath.Join(t.TempDir(), "one")
	o1.Platforms = ps
	r1, err := dist.Build(ctx, o1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from the checkout, machine build cache: %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	src := filepath.Join(t.TempDir(), "src", "gostrap")
	if err := dist.Extract(r1.Archive, src); err != nil {
		t.Fatal(err)
	}
	o2 := disttest.Options(t)
	o2.ModuleDir = src
	o2.Out = filepath.Join(t.TempDir(), "second", "out")
	// An empty build cache, the strongest check and most of this test's time; for quick
	// reruns, GOSTRAP_DIST_GOCACHE names another cache to keep (still not the machine's).
	o2.GOCACHE = t.TempDir()
	if c := os.Getenv("GOSTRAP_DIST_GOCACHE"); c != "" {
		o2.GOCACHE = c
	}
	o2.Platforms = ps
	o2.WantSum = r1.Sum // as gostrap rebuilding itself will ask (see dist.Embedded)
	r2, err := dist.Build(ctx, o2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from the extracted source, empty build cache: %v", time.Since(start).Round(time.Millisecond))

	if r1.Sum != r2.Sum || !bytes.Equal(r1.Archive, r2.Archive) {
		t.Errorf("module sums %s and %s, archives equal: %v", r1.Sum, r2.Sum, bytes.Equal(r1.Archive, r2.Archive))
	}
	for _, p := range ps {
		b1, err1 := os.ReadFile(filepath.Join(o1.Out, p.Dir(), p.Exe()))
		b2, err2 := os.ReadFile(filepath.Join(o2.Out, p.Dir(), p.Exe()))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: the two builds differ (%d and %d bytes)", p, len(b1), len(b2))
		}
	}
	s1, _ := os.ReadFile(filepath.Join(o1.Out, dist.SumsName))
	s2, _ := os.ReadFile(filepath.Join(o2.Out, dist.SumsName))
	if !bytes.Equal(s1, s2) {
		t.Errorf("SHA256SUMS differ:\n%s\n%s", s1, s2)
	}
	checkSums(t, o1.Out, s1, r1)

	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		checkVersion(t, filepath.Join(o1.Out, linuxAMD64.Dir(), linuxAMD64.Exe()), r1)
	}
}

// checkSums checks SHA256SUMS against the files and the result, with sha256sum -c when there is
// one.
func checkSums(t *testing.T, out string, sums []byte, r *dist.Result) {
	t.Helper()
	var want strings.Builder
	for _, b := range r.Binaries {
		fmt.Fprintf(&want, "%s  %s\n", b.SHA256, b.Path)
	}
	if string(sums) != want.String() {
		t.Errorf("SHA256SUMS:\n%s\nwant\n%s", sums, want.String())
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--strict", "-c", dist.SumsName)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, b)
		}
	}
}

// checkVersion runs 'gostrap version' and 'go version -m' on a dist binary: both name the dist
// version and module sum.
func checkVersion(t *testing.T, bin string, r *dist.Result) {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("gostrap version: %v", err)
	}
	lines := strings.Split(string(out), "\n")
	if lines[0] != "gostrap "+r.Version {
		t.Errorf("gostrap version says %q, want %q", lines[0], "gostrap "+r.Version)
	}
	if want := "module " + dist.ModulePath + " " + r.Version + " " + r.Sum; len(lines) < 2 || lines[1] != want {
		t.Errorf("gostrap version:\n%s\nwant the line %q", out, want)
	}
	m, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	if want := "\tmod\t" + dist.ModulePath + "\t" + r.Version + "\t" + r.Sum + "\n"; !strings.Contains(string(m), want) {
		t.Errorf("go version -m:\n%s\nwant the line %q", m, want)
	}
	if want := "\tpath\t" + dist.MainPackage + "\n"; !strings.Contains(string(m), want) {
		t.Errorf("go version -m:\n%s\nwant the line %q", m, want)
	}
	if !strings.Contains(string(m), "\tbuild\tCGO_ENABLED=0\n") || !strings.Contains(string(m), "\tbuild\t-trimpath=true\n") {
		t.Errorf("go version -m: not a static -trimpath build:\n%s", m)
	}
	if !strings.HasPrefix(string(m), bin+": "+r.GoVersion+"\n") {
		t.Errorf("go version -m: built by another Go than %s:\n%s", r.GoVersion, m)
	}
}

// TestBuildFailureNamed: a platform that does not compile is named, the others are built, and
// SHA256SUMS is not written.
func TestBuildFailureNamed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gostrap")
	}
	ctx := context.Background()
	o := disttest.Options(t)
	a, err := dist.SourceArchive(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "gostrap")
	if err := dist.Extract(a, src); err != nil {
		t.Fatal(err)
	}
	// Type-checks nowhere, but 'go list' is happy: only the windows build fails.
	bad := filepath.Join(src, "cmd", "gostrap", "broken_windows.go")
	if err := os.WriteFile(bad, []byte("package main\n\nvar broken int = \"not an int\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.ModuleDir = src
	o.Out = t.TempDir()
	os.WriteFile(filepath.Join(o.Out, dist.SumsName), []byte("stale\n"), 0o644)
	o.Platforms = []dist.Platform{linuxAMD64, windowsAMD64}
	_, err = dist.Build(ctx, o)
	var be *dist.BuildError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0].Platform != windowsAMD64 {
		t.Fatalf("err = %v, want a BuildError for windows/amd64 alone", err)
	}
	if !strings.Contains(err.Error(), "windows/amd64") || !strings.Contains(err.Error(), "broken_windows.go") {
		t.Errorf("error does not name the platform and the cause: %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, linuxAMD64.Dir(), linuxAMD64.Exe())); err != nil {
		t.Errorf("linux/amd64 not built: %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, dist.SumsName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SHA256SUMS left after a failed build: %v", err)
	}
}

// TestAllPlatforms (opt-in: GOSTRAP_DIST_ALL=1) builds every platform twice, the second time from
// the extracted source with an empty build cache, and compares.
func TestAllPlatforms(t *testing.T) {
	if os.Getenv("GOSTRAP_DIST_ALL") == "" {
		t.Skip("set GOSTRAP_DIST_ALL=1 to build all platforms twice (minutes)")
	}
	ctx := context.Background()
	start := time.Now()
	o1 := disttest.Options(t)
	o1.Out = t.TempDir()
	r1, err := dist.Build(ctx, o1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("all platforms, machine build cache: %v", time.Since(start).Round(time.Second))
	for _, b := range r1.Binaries {
		t.Logf("%-15s %9d bytes", b.Platform, b.Size)
	}
	start = time.Now()
	src := filepath.Join(t.TempDir(), "gostrap")
	if err := dist.Extract(r1.Archive, src); err != nil {
		t.Fatal(err)
	}
	o2 := disttest.Options(t)
	o2.ModuleDir = src
	o2.Out = t.TempDir()
	o2.GOCACHE = t.TempDir()
	r2, err := dist.Build(ctx, o2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("all platforms, empty build cache: %v", time.Since(start).Round(time.Second))
	s1, _ := os.ReadFile(filepath.Join(o1.Out, dist.SumsName))
	s2, _ := os.ReadFile(filepath.Join(o2.Out, dist.SumsName))
	if !bytes.Equal(s1, s2) || len(r1.Binaries) != len(dist.Platforms) || len(r2.Binaries) != len(dist.Platforms) {
		t.Errorf("SHA256SUMS differ:\n%s\n%s", s1, s2)
	}
	checkSums(t, o1.Out, s1, r1)
}

// TestWantSum: a rebuild whose source is not the one named is refused before compiling.
func TestWantSum(t *testing.T) {
	o := disttest.Options(t)
	o.Out = t.TempDir()
	o.Platforms = []dist.Platform{linuxAMD64}
	o.WantSum = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	start := time.Now()
	_, err := dist.Build(context.Background(), o)
	var sm *dist.SumMismatchError
	if !errors.As(err, &sm) || sm.Want != o.WantSum || !strings.HasPrefix(sm.Got, "h1:") {
		t.Fatalf("err = %v, want a SumMismatchError", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, linuxAMD64.Dir())); err == nil {
		t.Errorf("built despite the mismatch")
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestEmbedded: a test binary is not a dist build and carries no source.
func TestEmbedded(t *testing.T) {
	if a, v, s, ok := dist.Embedded(); ok || a != nil || v != "" || s != "" {
		t.Errorf("Embedded() = %d bytes, %q, %q, %v in a test binary", len(a), v, s, ok)
	}
}
