// Package winetest runs Windows binaries under wine in tests: Require skips the test when wine
// or the mingw-w64 cross compiler is missing, and otherwise gives a private wine prefix, made
// once per test binary run and shared by its tests.
//
// Go 1.24 and later Windows binaries import ProcessPrng from bcryptprimitives.dll, which wine 8
// lacks: they die at start with "bcryptprimitives.dll not found". The prefix gets a stand-in DLL
// (stub/prng.c, built with x86_64-w64-mingw32-gcc) whose ProcessPrng fills the buffer from
// RtlGenRandom (advapi32's SystemFunction036). The prefix reports Windows 10, the oldest
// release Go supports.
//
// What wine 8.0 (Debian 12) cannot do, found with testdata/probe (TestProbe logs it afresh) and
// the tests here:
//   - Symbolic links: CreateSymbolicLinkW (os.Symlink) reports success and creates nothing, for
//     directories and files, relative or absolute targets.
//   - Junctions: FSCTL_SET_REPARSE_POINT fails with ERROR_NOT_SUPPORTED ("Request not
//     supported"); 'cmd /c mklink /J' prints "Failed to open" and still exits 0, having made
//     nothing. So gostrap's <dir>\current junction is never made here: gostrap takes the path
//     for file systems without junctions (the record alone, and a warning), and the junction
//     itself is tested only by internal/layout's tests on Windows, with symbolic links standing
//     in for it on Linux.
//   - os.RemoveAll (Go 1.26): every file fails with "unlinkat ...: Invalid function": wine
//     answers FileDispositionInformationEx with STATUS_NOT_IMPLEMENTED, which Go does not take
//     as "unsupported", so Go's fallback to FileDispositionInfo is never tried. os.Remove of a
//     single file works. gostrap's removals fall back to it (layout.RemoveAll); test binaries
//     are built with RemoveAllOverlay so that testing's own t.TempDir cleanup works.
//   - Deletion has the old semantics: a file deleted while open stays "delete pending", and its
//     directory "not empty", until the last handle closes (Windows 10 on NTFS removes the name
//     at once).
//   - Renaming a directory that holds an open file succeeds (Windows refuses with a sharing
//     violation): tests of Windows locking behaviour pass under wine that would fail on Windows,
//     and a file held by a running program or a virus scan cannot be staged.
//   - cmd.exe reads %% in a batch file as nothing (Windows' gives a percent sign).
//
// What works: rename of a file over a file, LockFileEx (exclusive, fail-immediately),
// paths longer than 260 characters, loopback TCP and HTTP, user directories
// (C:\users\<user>\AppData\Local), os.Executable.
//
// A prefix takes about 15-20 s and 700 MB to create (wine copies its builtin DLLs into it), so
// it is made once per test binary run in the temporary directory and removed by Main (use it
// from TestMain); prefixes left by runs that did not call Main are removed by the next Require
// once their process is gone. GOSTRAP_WINEPREFIX names a prefix to use and keep instead (made
// when missing), for quick reruns.
package winetest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed stub/prng.c
var prngC []byte

// Wine is a wine prefix ready to run Windows amd64 binaries.
type Wine struct {
	// Prefix is the WINEPREFIX.
	Prefix string
	// Loader is the wine64 loader.
	Loader string
	// Created is how long making the prefix took (zero when it was reused).
	Created time.Duration
	keep    bool
}

var (
	shared    *Wine
	sharedErr error
	skipMsg   string
	once      sync.Once
)

const prefixPattern = "gostrap-wine-"

// Require returns the test binary's wine prefix, making it on first use; it skips the test
// when wine or mingw-w64 is not installed.
func Require(t testing.TB) *Wine {
	t.Helper()
	once.Do(func() { shared, skipMsg, sharedErr = setup() })
	if skipMsg != "" {
		t.Skip(skipMsg)
	}
	if sharedErr != nil {
		t.Fatalf("winetest: %v", sharedErr)
	}
	return shared
}

// Main runs the tests and then removes the prefix; use it as
//
//	func TestMain(m *testing.M) { os.Exit(winetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil && !shared.keep {
		shared.remove()
	}
	if overlayPath != "" {
		os.RemoveAll(filepath.Dir(overlayPath))
	}
	return code
}

func loader() string {
	for _, name := range []string{"wine64"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	// Debian installs the 64-bit loader here and /usr/bin/wine as a script that wants wine32.
	for _, p := range []string{"/usr/lib/wine/wine64", "/usr/lib64/wine/wine64", "/opt/wine-stable/bin/wine64"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("wine"); err == nil {
		return p
	}
	return ""
}

func setup() (*Wine, string, error) {
	w := &Wine{Loader: loader()}
	if w.Loader == "" {
		return nil, "wine is not installed (apt-get install wine wine64): not running Windows binaries", nil
	}
	cc, err := exec.LookPath("x86_64-w64-mingw32-gcc")
	if err != nil {
		return nil, "x86_64-w64-mingw32-gcc is not installed (apt-get install gcc-mingw-w64-x86-64): cannot build the bcryptprimitives.dll stand-in Go's Windows binaries need under wine", nil
	}
	if p := os.Getenv("GOSTRAP_WINEPREFIX"); p != "" {
		w.Prefix, w.keep = p, true
		if _, err := os.Stat(filepath.Join(p, "system.reg")); err == nil {
			return w, "", w.installDLL(cc)
		}
	} else {
		sweep()
		if w.Prefix, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", prefixPattern, os.Getpid())); err != nil {
			return nil, "", err
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := w.CommandContext(ctx, "wineboot", "-i").CombinedOutput(); err != nil {
		w.remove()
		return nil, "", fmt.Errorf("wineboot -i: %v\n%s", err, out)
	}
	if out, err := w.CommandContext(ctx, "winecfg", "/v", "win10").CombinedOutput(); err != nil {
		w.remove()
		return nil, "", fmt.Errorf("winecfg /v win10: %v\n%s", err, out)
	}
	if err := w.installDLL(cc); err != nil {
		w.remove()
		return nil, "", err
	}
	w.Created = time.Since(start)
	return w, "", nil
}

// installDLL builds the bcryptprimitives.dll stand-in into the prefix's system32.
func (w *Wine) installDLL(cc string) error {
	dir, err := os.MkdirTemp("", "gostrap-prng-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "prng.c")
	if err := os.WriteFile(src, prngC, 0o644); err != nil {
		return err
	}
	dll := filepath.Join(w.Prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if out, err := exec.Command(cc, "-shared", "-s", "-O2", "-o", dll, src, "-ladvapi32").CombinedOutput(); err != nil {
		return fmt.Errorf("building bcryptprimitives.dll: %v\n%s", err, out)
	}
	return nil
}

// Env is the environment wine runs with: headless (no DISPLAY), quiet, this prefix, and no
// Mono or Gecko installer.
func (w *Wine) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "WAYLAND_DISPLAY", "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "WINELOADER":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "WINEPREFIX="+w.Prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "WINELOADER="+w.Loader)
}

// Command runs a Windows program (a path on this machine, or a program of the prefix such as
// "cmd") under wine. Arguments that are paths on this machine can be turned into Windows paths
// with Path.
func (w *Wine) Command(exe string, args ...string) *exec.Cmd {
	return w.CommandContext(context.Background(), exe, args...)
}

// CommandContext is Command with a context.
func (w *Wine) CommandContext(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.Loader, append([]string{exe}, args...)...)
	cmd.Env = w.Env()
	return cmd
}

// BuildExe cross-compiles the package pkg (a path relative to dir, such as ./cmd/gostrap) of
// the module in dir for windows/amd64 with the go command on PATH, and returns the .exe.
func BuildExe(t testing.TB, dir, pkg string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), filepath.Base(pkg)+".exe")
	goBuild(t, dir, "build", "-trimpath", "-o", exe, pkg)
	return exe
}

// TestExe cross-compiles the tests of package pkg for windows/amd64 (go test -c) and returns
// the test binary, to be run under wine in the package's directory. The binary is built with
// RemoveAllOverlay's change to the standard library when it applies: without it, every
// t.TempDir fails its test when removed under wine.
func TestExe(t testing.TB, dir, pkg string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), strings.NewReplacer("/", "_", ".", "").Replace(pkg)+".test.exe")
	args := []string{"test", "-c", "-o", exe}
	if ov := RemoveAllOverlay(t); ov != "" {
		args = append(args, "-overlay", ov)
	}
	goBuild(t, dir, append(args, pkg)...)
	return exe
}

func goBuild(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// RemoveAllOverlay returns a go build -overlay file that makes os.RemoveAll work under wine
// for test binaries, or "" (logged) where the change does not apply to this Go. Wine 8 answers
// the FileDispositionInformationEx that Go's deleteat asks for with STATUS_NOT_IMPLEMENTED,
// which Go takes as a failure rather than as "not supported here", so it never tries its own
// fallback. The overlay adds that status to the fallback's list. gostrap's own binaries are
// never built with it: they cope through layout.RemoveAll, and the tests show it.
func RemoveAllOverlay(t testing.TB) string {
	t.Helper()
	overlayOnce.Do(func() { overlayPath, overlayNote = makeOverlay() })
	if overlayNote != "" {
		t.Log(overlayNote)
	}
	return overlayPath
}

var (
	overlayOnce              sync.Once
	overlayPath, overlayNote string
)

func makeOverlay() (string, string) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Sprintf("no overlay for os.RemoveAll under wine: go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src", "internal", "syscall", "windows", "at_windows.go")
	data, err := os.ReadFile(src)
	const fallback = "STATUS_NOT_SUPPORTED:"
	if err != nil || strings.Count(string(data), fallback) != 1 {
		return "", fmt.Sprintf("no overlay for os.RemoveAll under wine: %s has no single %q case (%v): "+
			"test binaries' temporary directories cannot be removed there", src, fallback, err)
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", overlayPattern, os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err.Error()
	}
	patched := filepath.Join(dir, "at_windows.go")
	// 0xC0000002 is STATUS_NOT_IMPLEMENTED.
	fixed := strings.Replace(string(data), fallback, "NTStatus(0xC0000002), "+fallback, 1)
	if err := os.WriteFile(patched, []byte(fixed), 0o644); err != nil {
		return "", err.Error()
	}
	js, _ := json.Marshal(map[string]map[string]string{"Replace": {src: patched}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, js, 0o644); err != nil {
		return "", err.Error()
	}
	return ov, ""
}

// Path is the Windows path of an absolute path on this machine (wine's Z: drive is /).
func Path(p string) string {
	return `Z:` + strings.ReplaceAll(filepath.Clean(p), "/", `\`)
}

// remove stops the prefix's wineserver and removes the prefix.
func (w *Wine) remove() {
	server := filepath.Join(filepath.Dir(w.Loader), "wineserver")
	if _, err := os.Stat(server); err != nil {
		server = "wineserver"
	}
	cmd := exec.Command(server, "-k")
	cmd.Env = w.Env()
	cmd.Run()
	os.RemoveAll(w.Prefix)
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// overlayPattern starts the name of a directory holding RemoveAllOverlay's files.
const overlayPattern = "gostrap-wine-overlay-"

// sweep removes prefixes and overlays whose test binaries are gone.
func sweep() {
	for _, pattern := range []string{prefixPattern, overlayPattern} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern+"*"))
		for _, d := range dirs {
			pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), pattern), "-")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || pid == os.Getpid() || alive(pid) {
				continue
			}
			if pattern == prefixPattern {
				(&Wine{Prefix: d, Loader: loader()}).remove()
			} else {
				os.RemoveAll(d)
			}
		}
	}
}
