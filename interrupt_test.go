package gostrap

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// interruptFixture is one release big enough (20 MiB) to be fetched over several connections.
var interruptFixture = sync.OnceValue(func() *mirrortest.Fixture {
	f, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{mirrortest.Host},
		Pad: 20 << 20, DBName: "sum.interrupt.test"})
	if err != nil {
		panic(err)
	}
	return f
})

// reached is closed the first time a server sees what a stage does.
type reached struct {
	once sync.Once
	ch   chan struct{}
}

func newReached() *reached               { return &reached{ch: make(chan struct{})} }
func (r *reached) mark()                 { r.once.Do(func() { close(r.ch) }) }
func (r *reached) wait() <-chan struct{} { return r.ch }

// paceWriter caps one response at rate bytes a second and marks the stage once after bytes.
type paceWriter struct {
	http.ResponseWriter
	rate, sent, after int64
	start             time.Time
	r                 *reached
	served            *atomic.Int64
}

func (p *paceWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 32<<10)
		w, err := p.ResponseWriter.Write(b[:k])
		n += w
		p.sent += int64(w)
		p.served.Add(int64(w))
		if err != nil {
			return n, err
		}
		if p.sent >= p.after {
			p.r.mark()
		}
		b = b[k:]
		if d := time.Duration(float64(p.sent)/float64(p.rate)*float64(time.Second)) - time.Since(p.start); d > 0 {
			time.Sleep(d)
		}
	}
	return n, nil
}

// Every stage of an install returns within a second of SIGINT or SIGTERM, with exit 130 or
// 143, nothing installed, staging cleaned, and what was fetched kept: the run after an
// interrupted download fetches only the rest (both runs together at most 1.05 times the file).
// A second signal ends a process whose step would not stop. The real binary, in a child process.
func TestInterruptEveryStage(t *testing.T) {
	bin := gostrapBinary(t)
	f := interruptFixture()
	s := mirrortest.Start(t, f)
	p := mirrortest.Host
	name := p.ArchiveName("go1.22.3")
	size := int64(len(f.Archives[name]))

	type stage struct {
		name string
		// serve is the official site for the run; it marks r when the stage is under way.
		serve func(r *reached, served *atomic.Int64) http.Handler
		env   []string
		sig   syscall.Signal
		// resume: the run after the interrupt must fetch only the rest.
		resume bool
	}
	official := f.OfficialHandler()
	slowArchive := func(rate int64, ranges bool) func(*reached, *atomic.Int64) http.Handler {
		return func(r *reached, served *atomic.Int64) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if !strings.HasSuffix(req.URL.Path, ".tar.gz") {
					official.ServeHTTP(w, req)
					return
				}
				if !ranges {
					req.Header.Del("Range")
				}
				pw := &paceWriter{ResponseWriter: w, rate: rate, after: 2 << 20, start: time.Now(), r: r, served: served}
				http.ServeContent(pw, req, name, time.Time{}, bytes.NewReader(f.Archives[name]))
			})
		}
	}
	// silentIndex answers the index with nothing (the probe waits), or with headers and then
	// nothing (the probe, which reads only headers, passes; the index fetch that follows waits).
	silentIndex := func(headers bool) func(*reached, *atomic.Int64) http.Handler {
		return func(r *reached, _ *atomic.Int64) http.Handler {
			var n atomic.Int32
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Query().Get("mode") != "json" {
					official.ServeHTTP(w, req)
					return
				}
				if headers {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(200)
					w.Write([]byte("[\n"))
					w.(http.Flusher).Flush()
				}
				if !headers || n.Add(1) == 2 {
					r.mark()
				}
				<-req.Context().Done()
			})
		}
	}
	stages := []stage{
		{name: "probe", serve: silentIndex(false)},
		{name: "index", serve: silentIndex(true)},
		{name: "download, one connection", serve: slowArchive(512<<10, false), resume: true},
		{name: "download, eight connections", serve: slowArchive(256<<10, true), resume: true},
		{name: "download, SIGTERM", serve: slowArchive(256<<10, true), sig: syscall.SIGTERM, resume: true},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			r := newReached()
			var served atomic.Int64
			srv := httptest.NewServer(st.serve(r, &served))
			defer srv.Close()
			defer srv.CloseClientConnections()
			tmp := t.TempDir()
			dir, cache := filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")
			env := procEnv(s, dir, cache, "GOSTRAP_OFFICIAL="+srv.URL+"/dl/", "GOPROXY=off", "GOSTRAP_IDLE_TIMEOUT=30s")
			env = append(env, st.env...)
			sig := st.sig
			if sig == 0 {
				sig = syscall.SIGINT
			}
			took, code, out := interrupt(t, bin, env, r, sig, "install", "1.22.3")
			t.Logf("%s: %s %v after the signal, exit %d", st.name, sigName(sig), took.Round(time.Millisecond), code)
			if code != 128+int(sig) || took > time.Second {
				t.Fatalf("exit %d after %v:\n%s", code, took, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "go1.22.3")); !os.IsNotExist(err) {
				t.Fatal("installed")
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) != 0 {
				t.Fatalf("staging left: %v", ents)
			}
			if !st.resume {
				return
			}
			first := served.Load()
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				official.ServeHTTP(&mirrortest.CountingWriter{ResponseWriter: w, N: &served}, req)
			})
			srv.CloseClientConnections()
			outJSON, err := runProc(env, bin, "install", "1.22.3", "--json")
			if err != nil {
				t.Fatalf("%v\n%s", err, outJSON)
			}
			var rep Report
			json.Unmarshal([]byte(outJSON), &rep)
			ratio := float64(served.Load()) / float64(size)
			t.Logf("%s: %.1f MiB served before the signal; the next run fetched %.1f MiB; %.3fx the archive over both",
				st.name, float64(first)/(1<<20), float64(rep.Bytes)/(1<<20), ratio)
			if ratio > 1.05 {
				t.Fatalf("served %.3fx the archive", ratio)
			}
		})
	}

	// Extraction: a bundle, read in place, with a pause after every file standing in for a slow disk.
	t.Run("extraction", func(t *testing.T) {
		tmp := t.TempDir()
		bundle := filepath.Join(tmp, "bundle")
		o := testOptions(t, s)
		o.GOSUMDB = s.GOSUMDB()
		if _, err := mustInstaller(t, o).SyncTree(t.Context(), TreeOptions{Out: bundle, Specs: []string{"1.22.3"}, Zips: true}); err != nil {
			t.Fatal(err)
		}
		r := newReached()
		dir := filepath.Join(tmp, "go")
		go func() { // extraction is under way once a file of the tree is in staging
			for range 1000 {
				if m, _ := filepath.Glob(filepath.Join(dir, ".gostrap", "staging", "*", "*")); len(m) > 0 {
					r.mark()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		env := procEnv(s, dir, filepath.Join(tmp, "cache"), "GOSTRAP_OFFLINE=1", "GOSTRAP_BUNDLE="+bundle, "GOSTRAP_TEST_SLOW_FILES=300ms")
		took, code, out := interrupt(t, bin, env, r, syscall.SIGINT, "install", "1.22.3")
		t.Logf("extraction: SIGINT %v after the signal, exit %d", took.Round(time.Millisecond), code)
		if code != 130 || took > time.Second {
			t.Fatalf("exit %d after %v:\n%s", code, took, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "go1.22.3")); !os.IsNotExist(err) {
			t.Fatal("installed")
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) != 0 {
			t.Fatalf("staging left: %v", ents)
		}
	})

	// Verification: only the checksum database can vouch for a mirror's archive, and it does not answer.
	t.Run("verification", func(t *testing.T) {
		r := newReached()
		silentDB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/sumdb/") && !strings.HasSuffix(req.URL.Path, "/supported") {
				r.mark()
				<-req.Context().Done()
				return
			}
			f.ProxyHandler().ServeHTTP(w, req)
		}))
		defer silentDB.Close()
		defer silentDB.CloseClientConnections()
		tmp := t.TempDir()
		dir := filepath.Join(tmp, "go")
		env := procEnv(s, dir, filepath.Join(tmp, "cache"), "GOSTRAP_OFFICIAL=off", "GOSTRAP_MIRRORS="+s.MirrorURL(),
			"GOSTRAP_SOURCES=mirror", "GOPROXY="+silentDB.URL, "GOSTRAP_IDLE_TIMEOUT=30s")
		took, code, out := interrupt(t, bin, env, r, syscall.SIGINT, "install", "1.22.3")
		t.Logf("verification: SIGINT %v after the signal, exit %d", took.Round(time.Millisecond), code)
		if code != 130 || took > time.Second {
			t.Fatalf("exit %d after %v:\n%s", code, took, out)
		}
	})

	// A second install of the same version waits for the first's lock, and stops waiting at once;
	// the first, stuck in a step that ignores cancellation, ends at the second signal.
	t.Run("lock wait, then a second signal", func(t *testing.T) {
		tmp := t.TempDir()
		dir, cache := filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")
		stuck := exec.Command(bin, "install", "1.22.3")
		stuck.Env = procEnv(s, dir, cache, "GOSTRAP_TEST_HANG_AT=before-rename")
		if err := stuck.Start(); err != nil {
			t.Fatal(err)
		}
		defer stuck.Process.Kill()
		// The first is stuck once its verified tree is staged, just before the rename, holding
		// the version's lock; the second starts then, and is interrupted while it waits.
		for i := 0; ; i++ {
			if m, _ := filepath.Glob(filepath.Join(dir, ".gostrap", "staging", "*", ".gostrap.json")); len(m) > 0 {
				break
			}
			if i == 400 {
				t.Fatal("the first install never staged its tree")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		r := newReached()
		time.AfterFunc(500*time.Millisecond, r.mark)
		took, code, out := interrupt(t, bin, procEnv(s, dir, cache), r, syscall.SIGINT, "install", "1.22.3")
		t.Logf("lock wait: SIGINT %v after the signal, exit %d", took.Round(time.Millisecond), code)
		if code != 130 || took > time.Second {
			t.Fatalf("exit %d after %v:\n%s", code, took, out)
		}
		exited := make(chan error, 1)
		go func() { exited <- stuck.Wait() }()
		stuck.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
			t.Fatal("the stuck step stopped at the first signal: the test proves nothing")
		case <-time.After(time.Second):
		}
		start := time.Now()
		stuck.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
			t.Logf("second SIGINT: exit %d after %v", stuck.ProcessState.ExitCode(), time.Since(start).Round(time.Millisecond))
			if stuck.ProcessState.ExitCode() != 130 {
				t.Fatalf("exit %d", stuck.ProcessState.ExitCode())
			}
		case <-time.After(time.Second):
			t.Fatal("the second SIGINT did not end the process")
		}
		if _, err := os.Stat(filepath.Join(dir, "go1.22.3")); !os.IsNotExist(err) {
			t.Fatal("installed")
		}
	})
}

// interrupt runs bin, sends sig once r is reached, and returns how long the process took to
// exit after the signal, its exit code and output.
func interrupt(t *testing.T, bin string, env []string, r *reached, sig syscall.Signal, args ...string) (time.Duration, int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-r.wait():
	case <-exited:
		t.Fatalf("exited %d before the stage was reached:\n%s", cmd.ProcessState.ExitCode(), out.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the stage was never reached:\n%s", out.String())
	}
	start := time.Now()
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running 10 s after %v:\n%s", sig, out.String())
	}
	return time.Since(start), cmd.ProcessState.ExitCode(), out.String()
}

func sigName(sig syscall.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}
