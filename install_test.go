package gostrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

func TestMain(m *testing.M) {
	// No test may reach beyond loopback.
	os.Setenv(download.TestNetworkEnv, "loopback")
	code := m.Run()
	if binPath != "" { // gostrapBinary's build
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var fixture = func() *mirrortest.Fixture {
	f, err := mirrortest.New(mirrortest.Options{Pad: 256 << 10})
	if err != nil {
		panic(err)
	}
	return f
}()

// testOptions are options that reach only the given servers.
func testOptions(t *testing.T, s *mirrortest.Servers) Options {
	t.Helper()
	tmp := t.TempDir()
	return Options{
		Dir:      filepath.Join(tmp, "go"),
		CacheDir: filepath.Join(tmp, "cache"),
		Official: []string{s.OfficialURL()},
		Mirrors:  []string{"off"},
		GOPROXY:  s.ProxyURL(),
		GOSUMDB:  s.GOSUMDB(),
		Log:      testLog{t},
		Download: download.Config{IdleTimeout: 2 * time.Second, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond},
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustInstaller(t *testing.T, o Options) *Installer {
	t.Helper()
	in, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func install(t *testing.T, in *Installer, spec string) (*Report, error) {
	t.Helper()
	s, err := mirror.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return in.Install(context.Background(), s)
}

func TestInstallOfficial(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	in := mustInstaller(t, testOptions(t, s))
	rep, err := install(t, in, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != "go1.22.3" || rep.Source.Kind != "official" {
		t.Fatalf("installed %s from %s", rep.Version, rep.Source.Kind)
	}
	if rep.Verified.Method != "sha256+sumdb-tree" {
		t.Errorf("verified by %q, want sha256+sumdb-tree", rep.Verified.Method)
	}
	got, err := layout.ReadVERSION(rep.GOROOT)
	if err != nil || got != "go1.22.3" {
		t.Fatalf("VERSION = %q, %v", got, err)
	}
	st, err := os.Stat(filepath.Join(rep.GOROOT, filepath.FromSlash(mirrortest.GoCmd(mirrortest.Host))))
	if err != nil || st.Mode().Perm() != 0o755 && runtime.GOOS != "windows" { // Windows has no permission bits
		t.Fatalf("bin/go: %v %v", st, err)
	}
	// The files the module leaves out are installed: the official sha256 covers them.
	if _, err := os.Stat(filepath.Join(rep.GOROOT, "test", "run.go")); err != nil {
		t.Error(err)
	}
	rep2, err := install(t, in, "1.22")
	if err != nil || !rep2.AlreadyInstalled {
		t.Fatalf("second install: %+v %v", rep2, err)
	}
}

func TestInstallProxyOnly(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	o.Official = []string{mirrortest.ClosedURL()}
	in := mustInstaller(t, o)
	rep, err := install(t, in, "1.21")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != "go1.21.13" || rep.Source.Kind != "proxy" || rep.Verified.Method != "sumdb" {
		t.Fatalf("got %s from %s verified by %s", rep.Version, rep.Source.Kind, rep.Verified.Method)
	}
	if len(rep.Attempts) != 2 || rep.Attempts[0].Error == nil || rep.Attempts[0].Error.Class != failure.TCPRefused {
		t.Fatalf("attempts: %+v", rep.Attempts)
	}
	if _, err := os.Stat(filepath.Join(rep.GOROOT, "src", "go.mod")); err != nil {
		t.Error("_go.mod not mapped back:", err)
	}
}

// A download cut at 60% is resumed: the bytes fetched stay under 1.2x the archive.
func TestInstallResumesCutDownload(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	name := mirrortest.Host.ArchiveName("go1.22.3")
	size := len(fixture.Archives[name])
	cut := &mirrortest.Cut{H: fixture.MirrorHandler(), N: 1, Limit: int64(size) * 6 / 10}
	srv := httptest.NewServer(cut)
	defer srv.Close()
	o := testOptions(t, s)
	o.Mirrors = []string{srv.URL + "/golang/"}
	o.Sources = []Kind{KindMirror}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(rep.Bytes) / float64(size)
	t.Logf("archive %d bytes, fetched %d (%.3fx), served %d", size, rep.Bytes, ratio, cut.Bytes.Load())
	if ratio >= 1.2 || float64(cut.Bytes.Load())/float64(size) >= 1.2 {
		t.Fatalf("fetched %.2fx the archive", ratio)
	}
}

// A stall is a cut: a source that stalls once mid-body is resumed within its budget, and the
// install succeeds from it alone. A source that stays silent is given up after twice the idle
// timeout, and the next one resumes from the partial file.
func TestInstallStalledSource(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	name := mirrortest.Host.ArchiveName("go1.22.3")
	size := int64(len(fixture.Archives[name]))

	// Once, on the only source.
	var stalls atomic.Int32
	once := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dl/"+name && stalls.Add(1) == 1 {
			mirrortest.Stall(fixture.OfficialHandler(), size/2).ServeHTTP(w, r)
			return
		}
		fixture.OfficialHandler().ServeHTTP(w, r)
	}))
	defer once.Close()
	defer once.CloseClientConnections()
	o := testOptions(t, s)
	o.Official = []string{once.URL + "/dl/"}
	o.GOPROXY = "off"
	o.Download.IdleTimeout = 500 * time.Millisecond
	o.Download.SegmentThreshold = -1
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil || rep.Source.Kind != "official" {
		t.Fatalf("a one-off stall on the only source: %v", err)
	}
	t.Logf("one stall: installed from the same source, %d bytes fetched for a %d-byte archive", rep.Bytes, size)
	if rep.Bytes > size*11/10 {
		t.Errorf("fetched %d bytes", rep.Bytes)
	}

	// For good, at the same byte each time: the mirror resumes from what it delivered.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dl/"+name {
			fixture.OfficialHandler().ServeHTTP(w, r)
			return
		}
		data, _ := fixture.Archive(name)
		http.ServeContent(w, r, name, time.Time{}, mirrortest.SilentAfter(data, size/2, r.Context().Done()))
	}))
	defer stall.Close()
	defer stall.CloseClientConnections()
	o = testOptions(t, s)
	o.Official = []string{stall.URL + "/dl/"}
	o.Mirrors = []string{s.MirrorURL()}
	// Only the mirror to fall back to: on a loaded machine its probe may miss the race's grace
	// and be tried last, after a proxy.
	o.GOPROXY = "off"
	o.Download.IdleTimeout = 500 * time.Millisecond
	o.Download.SegmentThreshold = -1
	rep, err = install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Attempts[0]
	if a.Error == nil || a.Error.Class != failure.Stalled || rep.Source.Kind != "mirror" {
		t.Fatalf("attempts %+v", rep.Attempts)
	}
	t.Logf("stalled source given up after %d ms (idle timeout 500 ms); mirror fetched %d of %d bytes", a.DurationMS, rep.Bytes, size)
	if a.DurationMS > 5000 {
		t.Fatalf("stall took %d ms to detect", a.DurationMS)
	}
	if rep.Bytes >= size {
		t.Errorf("the mirror refetched the whole archive (%d bytes) instead of resuming", rep.Bytes)
	}
}

// Other platforms: the official Windows zip, and 32-bit ARM named armv6l by the site and arm by
// the toolchain module.
func TestInstallOtherPlatforms(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	for _, tc := range []struct {
		p       mirror.Platform
		sources []Kind
		file    string
	}{
		{mirror.Platform{OS: "windows", Arch: "amd64"}, []Kind{KindOfficial}, "bin/go.exe"},
		{mirror.Platform{OS: "windows", Arch: "amd64"}, []Kind{KindProxy}, "bin/go.exe"},
		{mirror.Platform{OS: "linux", Arch: "arm"}, []Kind{KindOfficial}, "bin/go"},
		{mirror.Platform{OS: "linux", Arch: "arm"}, []Kind{KindProxy}, "bin/go"},
	} {
		o := testOptions(t, s)
		o.Platform = tc.p
		o.Sources = tc.sources
		rep, err := install(t, mustInstaller(t, o), "1.22.3")
		if err != nil {
			t.Fatalf("%v from %v: %v", tc.p, tc.sources, err)
		}
		if filepath.Base(rep.GOROOT) != (layout.Layout{Platform: tc.p}).Name("go1.22.3") {
			t.Errorf("%v installed at %s", tc.p, rep.GOROOT)
		}
		data, err := os.ReadFile(filepath.Join(rep.GOROOT, tc.file))
		if err != nil || !strings.Contains(string(data), tc.p.OS+"/"+tc.p.Arch) {
			t.Errorf("%v: %s: %q %v", tc.p, tc.file, data, err)
		}
		list, _ := mustInstaller(t, o).List()
		if len(list) != 1 || list[0].Version != "go1.22.3" {
			t.Errorf("%v: list %+v", tc.p, list)
		}
	}
}
