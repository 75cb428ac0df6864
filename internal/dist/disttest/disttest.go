// Package disttest helps tests build gostrap, lay out the gostrap part of a bundle or mirror
// tree, and run install.sh for real: under dash and busybox sh, in a clean environment, against
// a tree on disk or served on 127.0.0.1. Nothing here reaches beyond loopback: builds take their
// dependencies from the machine's module cache (GOPROXY=file://...), and the commands run with
// a dead HTTP(S) proxy for anything not on loopback.
package disttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"github.com/gostrap/gostrap/offline"
)

// ModuleDir returns the root of the gostrap checkout the test runs in.
func ModuleDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD: %q, %v", gomod, err)
	}
	return filepath.Dir(gomod)
}

var cacheProxy = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	s := filepath.ToSlash(dir)
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return "file://" + s, nil
})

// Options returns dist.Options that build offline: ModuleDir is this checkout, dependencies come
// from the machine's module cache as a file:// GOPROXY (checked against go.sum as they are
// copied into the build's private module cache), the build cache is the machine's, and the
// version is v0.0.0-test.
func Options(t testing.TB) dist.Options {
	t.Helper()
	proxy, err := cacheProxy()
	if err != nil {
		t.Fatal(err)
	}
	return dist.Options{
		ModuleDir: ModuleDir(t),
		Version:   "v0.0.0-test",
		GOPROXY:   proxy,
		Log:       logWriter{t},
	}
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Dist builds gostrap for ps with dist.Build and Options into a temporary directory, which it
// returns with the result.
func Dist(t testing.TB, ps ...dist.Platform) (string, *dist.Result) {
	t.Helper()
	o := Options(t)
	o.Out = t.TempDir()
	o.Platforms = ps
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := dist.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return o.Out, res
}

// Gostrap builds gostrap for this machine with a plain 'go build' (quick: the machine's build
// cache) and returns the binary's path.
func Gostrap(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gostrap"+exeSuffix())
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gostrap")
	cmd.Dir = ModuleDir(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gostrap: %v\n%s", err, out)
	}
	return bin
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// Tree lays out the gostrap part of a tree at dir: install.sh and install.ps1 at the root,
// and for each platform ("linux-amd64") the given file as gostrap/<platform>/gostrap[.exe],
// listed in gostrap/SHA256SUMS. When dir has no gostrap-manifest.json it gets an empty one (a
// valid tree with no releases, as offline.Writer makes it).
func Tree(t testing.TB, dir string, bins map[string]string) {
	t.Helper()
	sums := map[string]string{}
	for plat, src := range bins {
		name := "gostrap"
		if strings.HasPrefix(plat, "windows-") {
			name += ".exe"
		}
		rel := plat + "/" + name
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, dist.TreeDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[rel] = hex.EncodeToString(sum[:])
	}
	WriteSums(t, dir, sums)
	for name, data := range map[string][]byte{"install.sh": dist.InstallSH, "install.ps1": dist.InstallPS1} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, offline.ManifestName)); errors.Is(err, os.ErrNotExist) {
		w, err := offline.OpenWriter(dir, "sum.golang.org")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(); err != nil {
			t.Fatal(err)
		}
	}
}

// WriteSums writes gostrap/SHA256SUMS in a tree: path ("linux-amd64/gostrap") -> sha256 hex.
func WriteSums(t testing.TB, dir string, sums map[string]string) {
	t.Helper()
	var paths []string
	for p := range sums {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", sums[p], p)
	}
	if err := os.MkdirAll(filepath.Join(dir, dist.TreeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dist.TreeDir, dist.SumsName), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Serve serves a tree on 127.0.0.1 as 'gostrap mirror serve' does (offline.Handler) and returns
// its base URL, without a trailing slash.
func Serve(t testing.TB, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: offline.Handler(dir)}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// Shell is a POSIX shell to run scripts with.
type Shell struct {
	Name string
	Argv []string
	// Busybox: the tools (ToolDir) are busybox applets too, as on Alpine.
	Busybox bool
}

// Shells returns dash, busybox sh and bash, each when installed (a missing one is logged and
// left out; none at all skips the test).
func Shells(t testing.TB) []Shell {
	t.Helper()
	var shs []Shell
	if p, err := exec.LookPath("dash"); err == nil {
		shs = append(shs, Shell{Name: "dash", Argv: []string{p}})
	} else {
		t.Logf("dash is not installed (apt-get install dash): not testing it")
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		shs = append(shs, Shell{Name: "busybox", Argv: []string{p, "sh"}, Busybox: true})
	} else {
		t.Logf("busybox is not installed (apt-get install busybox): not testing busybox sh")
	}
	if p, err := exec.LookPath("bash"); err == nil {
		shs = append(shs, Shell{Name: "bash", Argv: []string{p}})
	}
	if len(shs) == 0 {
		t.Skip("neither dash nor busybox nor bash is installed")
	}
	return shs
}

// BaseTools are what install.sh needs besides a downloader and a checksum tool.
var BaseTools = []string{"uname", "mktemp", "rm", "cp", "chmod", "sed", "tr", "cat", "mkdir", "sysctl"}

// ToolDir makes a directory of links to the named tools, to be a script's whole PATH: from
// /usr/bin and /bin, or busybox applets for sh.Busybox (curl is never a busybox applet; a tool
// that is not there is left out).
func ToolDir(t testing.TB, sh Shell, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	var applets map[string]bool
	if sh.Busybox {
		out, err := exec.Command(sh.Argv[0], "--list").Output()
		if err != nil {
			t.Fatalf("busybox --list: %v", err)
		}
		applets = map[string]bool{}
		for _, a := range strings.Fields(string(out)) {
			applets[a] = true
		}
	}
	for _, tool := range tools {
		target := ""
		if applets[tool] {
			target = sh.Argv[0]
		} else {
			for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
				if _, err := os.Stat(filepath.Join(d, tool)); err == nil {
					target = filepath.Join(d, tool)
					break
				}
			}
		}
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Run is the outcome of a script run.
type Run struct {
	Stdout, Stderr string
	Code           int
}

// Script is a run of a shell script in a clean environment.
type Script struct {
	// Args are the shell's arguments: the script and its arguments, or "-s", "--", ... with Stdin.
	Args []string
	// PATH is the whole PATH (see ToolDir).
	PATH string
	// Env is added to the clean environment.
	Env []string
	// Stdin, when not nil, is the standard input (to pipe a script into 'sh -s').
	Stdin []byte
	// Dir is the working directory ("" means a fresh temporary one).
	Dir string
}

// Run runs the script with sh in a clean environment: PATH, HOME and TMPDIR in fresh temporary
// directories, GOSTRAP_DIR and GOSTRAP_CACHE under HOME, a dead HTTP(S) proxy for every host but
// loopback, and s.Env. It fails the test when the script leaves anything in TMPDIR.
func (s Script) Run(t testing.TB, sh Shell) Run {
	t.Helper()
	home, tmp := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh.Argv[0], append(slices.Clone(sh.Argv[1:]), s.Args...)...)
	const dead = "http://127.0.0.1:9"
	cmd.Env = append([]string{
		"PATH=" + s.PATH, "HOME=" + home, "TMPDIR=" + tmp,
		// gostrap honours these (and NO_PROXY); curl and wget read the lower-case http_proxy,
		// and busybox wget would send even loopback through it (it ignores no_proxy).
		"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=127.0.0.1,localhost",
		"GOSTRAP_DIR=" + filepath.Join(home, "go"), "GOSTRAP_CACHE=" + filepath.Join(home, "cache"),
	}, s.Env...)
	cmd.Dir = s.Dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	if s.Stdin != nil {
		cmd.Stdin = bytes.NewReader(s.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Run{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", sh.Name, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("%s left %d files in TMPDIR: %v", sh.Name, len(left), left[0].Name())
	}
	return r
}
