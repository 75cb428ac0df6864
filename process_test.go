package gostrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// These tests run the real binary in child processes: SIGKILL at checkpoints, a file size
// limit, and eight processes on one directory at once.

var (
	buildOnce sync.Once
	binPath   string // in a directory of its own, which TestMain removes
	buildErr  error
)

func gostrapBinary(t *testing.T) string {
	t.Helper()
	if raceEnabled {
		t.Skip("drives the gostrap binary in child processes, which the race detector does not see: run without -race")
	}
	if runtime.GOOS == "windows" {
		t.Skip("process tests use POSIX signals and ulimit")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build gostrap with")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gostrap-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gostrap")
		out, err := exec.Command(gobin, "build", "-o", binPath, "./cmd/gostrap").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// procEnv is the environment a child gostrap runs in: only the given servers, no internet.
func procEnv(s *mirrortest.Servers, dir, cache string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Dir(dir),
		"GOSTRAP_DIR=" + dir,
		"GOSTRAP_CACHE=" + cache,
		"GOSTRAP_OFFICIAL=" + s.OfficialURL(),
		"GOSTRAP_MIRRORS=off",
		"GOPROXY=" + s.ProxyURL(),
		"GOSUMDB=" + s.GOSUMDB(),
		download.TestNetworkEnv + "=loopback",
		"GOSTRAP_QUIET=1",
	}
	return append(env, extra...)
}

func runProc(env []string, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

type crashStats struct {
	Points []string `json:"points"`
	Killed int      `json:"killed"`
	Intact int      `json:"trees_intact"`
	Reran  int      `json:"reran_ok"`
}

// A SIGKILL at each checkpoint of the install path leaves the previous install intact, and
// the next run cleans up and succeeds.
func TestCrashSafety(t *testing.T) {
	bin := gostrapBinary(t)
	s := mirrortest.Start(t, fixture)
	st := crashStats{Points: []string{"after-download", "mid-extraction", "before-rename", "after-rename"}}
	for _, point := range st.Points {
		t.Run(point, func(t *testing.T) {
			tmp := t.TempDir()
			dir, cache := filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")
			env := procEnv(s, dir, cache)
			if out, err := runProc(env, bin, "install", "1.21.13"); err != nil {
				t.Fatalf("first install: %v\n%s", err, out)
			}
			before, _ := mirrortest.TreeDigest(filepath.Join(dir, "go1.21.13"))

			out, err := runProc(append(env, "GOSTRAP_CRASH_AT="+point), bin, "install", "1.22.3", "--use")
			if !killedBy(err, syscall.SIGKILL) {
				t.Fatalf("not killed at %s: %v\n%s", point, err, out)
			}
			st.Killed++
			after, _ := mirrortest.TreeDigest(filepath.Join(dir, "go1.21.13"))
			cur, _ := os.Readlink(filepath.Join(dir, "current"))
			l := layout.Layout{Dir: dir, Platform: mirror.Host()}
			_, newIntact := l.Intact("go1.22.3")
			_, newExists := os.Stat(filepath.Join(dir, "go1.22.3"))
			ok := after == before && cur == "go1.21.13" &&
				(point == "after-rename" && newIntact || point != "after-rename" && os.IsNotExist(newExists))
			if !ok {
				t.Fatalf("after a crash at %s: previous intact %v, current %q, go1.22.3 intact %v exists %v",
					point, after == before, cur, newIntact, newExists == nil)
			}
			st.Intact++

			if out, err := runProc(env, bin, "install", "1.22.3", "--use"); err != nil {
				t.Fatalf("rerun: %v\n%s", err, out)
			}
			if _, ok := l.Intact("go1.22.3"); !ok {
				t.Fatal("rerun did not install go1.22.3")
			}
			if cur, _ := os.Readlink(filepath.Join(dir, "current")); cur != "go1.22.3" {
				t.Fatalf("current -> %q", cur)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) != 0 {
				t.Fatalf("staging left after the rerun: %v", ents)
			}
			st.Reran++
		})
	}
	writeReliability(t, "crash", st)
}

// A file size limit (RLIMIT_FSIZE) hit during extraction: a clean disk error, exit 1, staging
// removed, nothing installed, the previous install intact.
func TestDiskFullDuringExtraction(t *testing.T) {
	bin := gostrapBinary(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for ulimit")
	}
	s := mirrortest.Start(t, fixture)
	// A release whose one large file compresses to almost nothing: the download fits under
	// the limit, the extraction does not.
	p := mirrortest.Host
	tree := mirrortest.Tree("go1.22.3", p, nil)
	tree["pkg/tool/big"] = mirrortest.File{Data: make([]byte, 4<<20), Mode: 0o755}
	data, err := mirrortest.TarGz(tree)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	f := &mirrortest.Fixture{Archives: map[string][]byte{p.ArchiveName("go1.22.3"): data}, Index: []mirror.Release{{
		Version: "go1.22.3", Stable: true, Files: []mirror.File{{Filename: p.ArchiveName("go1.22.3"), OS: p.OS,
			Arch: p.OfficialArch(), Version: "go1.22.3", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Kind: "archive"}}}}}
	srv := httptest.NewServer(f.OfficialHandler())
	defer srv.Close()

	tmp := t.TempDir()
	dir, cache := filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")
	env := procEnv(s, dir, cache)
	if out, err := runProc(env, bin, "install", "1.21.13"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	before, _ := mirrortest.TreeDigest(filepath.Join(dir, "go1.21.13"))
	env = procEnv(s, dir, cache, "GOSTRAP_OFFICIAL="+srv.URL+"/dl/", "GOPROXY=off", "GOSTRAP_QUIET=")
	out, err := runProc(env, bash, "-c", `ulimit -f 1024; exec "$@"`, "gostrap", bin, "install", "1.22.3")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure || !strings.Contains(out, ": disk: ") {
		t.Fatalf("want exit 1 with a disk error: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "go1.22.3")); !os.IsNotExist(err) {
		t.Fatal("installed")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) != 0 {
		t.Fatalf("staging left: %v", ents)
	}
	if after, _ := mirrortest.TreeDigest(filepath.Join(dir, "go1.21.13")); after != before {
		t.Fatal("previous install changed")
	}
	t.Logf("%s", strings.TrimSpace(lastLine(out)))

	// The same through a module proxy: a full disk is a disk error, never a SECURITY ERROR.
	pf, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{p}, DBName: "sum2.test"})
	if err != nil {
		t.Fatal(err)
	}
	zdata, err := mirrortest.ModuleZip(p.ToolchainVersion("go1.22.3"), tree)
	if err != nil {
		t.Fatal(err)
	}
	pf.SetModZip(p.ToolchainVersion("go1.22.3"), zdata)
	ps := mirrortest.Start(t, pf)
	env = procEnv(ps, dir, cache, "GOSTRAP_OFFICIAL=off", "GOSTRAP_SOURCES=proxy", "GOSTRAP_QUIET=")
	out, err = runProc(env, bash, "-c", `ulimit -f 1024; exec "$@"`, "gostrap", bin, "install", "1.22.3")
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailure || !strings.Contains(out, ": disk: ") || strings.Contains(out, "SECURITY") {
		t.Fatalf("proxy: want exit 1 with a disk error: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) != 0 {
		t.Fatalf("proxy: staging left: %v", ents)
	}
	if after, _ := mirrortest.TreeDigest(filepath.Join(dir, "go1.21.13")); after != before {
		t.Fatal("proxy: previous install changed")
	}
	t.Logf("proxy: %s", strings.TrimSpace(lastLine(out)))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "disk") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// Eight gostrap processes install, use and uninstall (--force: the current one too, switching
// current to another) on one directory at once, for several rounds: every install succeeds, use
// and uninstall either succeed or say the version is not installed, and after each round every toolchain present is intact, current points at one of
// them (or nowhere), and nothing is left in staging or the trash.
func TestConcurrentProcesses(t *testing.T) {
	bin := gostrapBinary(t)
	s := mirrortest.Start(t, fixture)
	tmp := t.TempDir()
	dir, cache := filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")
	env := procEnv(s, dir, cache)
	cmds := [][]string{
		{"install", "1.22.3"}, {"install", "1.22.3"}, {"install", "1.21.13"}, {"install", "1.20.14"},
		{"use", "1.22"}, {"use", "1.21"}, {"uninstall", "1.20.14", "--force"}, {"uninstall", "1.21.13", "--force"},
	}
	rounds := 4
	runs := 0
	for round := range rounds {
		rand.Shuffle(len(cmds), func(i, j int) { cmds[i], cmds[j] = cmds[j], cmds[i] })
		var wg sync.WaitGroup
		errs := make([]error, len(cmds))
		outs := make([]string, len(cmds))
		for i, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = runProc(env, bin, c...)
			}()
		}
		wg.Wait()
		runs += len(cmds)
		for i, c := range cmds {
			if errs[i] == nil {
				continue
			}
			if c[0] != "install" && strings.Contains(outs[i], "is not installed") {
				continue
			}
			t.Fatalf("round %d: gostrap %v: %v\n%s", round, c, errs[i], outs[i])
		}
		l := layout.Layout{Dir: dir, Platform: mirror.Host()}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if mirror.IsRelease(e.Name()) {
				if _, ok := l.Intact(e.Name()); !ok {
					t.Fatalf("round %d: %s is not intact", round, e.Name())
				}
			}
		}
		if cur, err := os.Readlink(filepath.Join(dir, "current")); err == nil {
			if _, ok := l.Intact(cur); !ok {
				t.Fatalf("round %d: current -> %s, not intact", round, cur)
			}
		}
		for _, d := range []string{"staging", "trash"} {
			if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", d)); len(ents) != 0 {
				t.Fatalf("round %d: %s holds %v", round, d, ents)
			}
		}
	}
	t.Logf("%d processes in %d rounds of 8 at once: all consistent", runs, rounds)
	writeReliability(t, "concurrency", map[string]int{"processes": runs, "rounds": rounds, "at_once": len(cmds)})
}
