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
// What wine 8.0 (Debian 12) cannot do, found with testdata/probe (TestProbe logs it afresh):
//   - Symbolic links: CreateSymbolicLinkW (os.Symlink) reports success and creates nothing, for
//     directories and files, relative or absolute targets.
//   - Junctions: FSCTL_SET_REPARSE_POINT fails with ERROR_NOT_SUPPORTED; 'cmd /c mklink /J'
//     prints "Failed to open" and still exits 0, having made nothing.
//   - os.RemoveAll (Go 1.26): every file fails with "unlinkat ...: Invalid function": wine
//     answers FileDispositionInformationEx with a status Go does not take as "unsupported", so
//     Go's fallback to FileDispositionInfo is never tried. os.Remove of a single file works.
//   - Renaming a directory that holds an open file succeeds (Windows refuses with a sharing
//     violation): tests of Windows locking behaviour pass under wine that would fail on Windows.
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

// sweep removes prefixes whose test binaries are gone.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefixPattern+"*"))
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefixPattern), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if !alive(pid) {
			(&Wine{Prefix: d, Loader: loader()}).remove()
		}
	}
}
