package gostrap

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
)

// An official site behind a self-signed certificate: refused, then installed with --ca-file.
func TestInstallWithCAFile(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	ca := mirrortest.NewCA("Corp Test CA")
	srv := mirrortest.TLSServer(t, fixture.OfficialHandler(), ca.Leaf(mirrortest.LeafOptions{}), nil)
	o := testOptions(t, s)
	o.Official = []string{srv.URL + "/dl/"}
	o.GOPROXY = "off"
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.ExitCode() != ExitNoSource || rep.Attempts[0].Error.Class != failure.TLSUnknownAuthority ||
		!strings.Contains(rep.Attempts[0].Error.Hint, "--ca-file") {
		t.Fatalf("without --ca-file: exit %d %+v", rep.ExitCode(), rep.Attempts)
	}
	o.Download.CAFile = ca.WriteFile(t.TempDir())
	rep, err = install(t, mustInstaller(t, o), "1.22.3")
	if err != nil || rep.Verified.Method != "sha256" {
		t.Fatalf("with --ca-file: %v", err)
	}
}

// The sources race: a blackholed official site first in the order costs at most half a second
// when a mirror answers, with the default probe budget (3 s a stage); it is demoted, not
// excluded.
func TestBlackholedOfficialCostsLittle(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	run := func(official string) (time.Duration, *Report) {
		o := testOptions(t, s)
		o.Official = []string{official}
		o.Mirrors = []string{s.MirrorURL()}
		o.GOPROXY = s.ProxyURL()
		start := time.Now()
		rep, err := install(t, mustInstaller(t, o), "1.22.3")
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start), rep
	}
	// Both installs verify the mirror's archive against an official index: the healthy run's,
	// and for the blackholed run the checksum database (the official index never answers).
	healthy, _ := run(s.OfficialURL())
	blackholed, rep := run("http://" + mirrortest.Blackhole(t) + "/dl/")
	if rep.Source.Kind != "mirror" {
		t.Fatalf("installed from %+v; attempts %+v", rep.Source, rep.Attempts)
	}
	extra := blackholed - healthy
	t.Logf("healthy %v, official blackholed %v: %v extra (probe stage budget 3 s)", healthy.Round(time.Millisecond),
		blackholed.Round(time.Millisecond), extra.Round(time.Millisecond))
	if extra > 500*time.Millisecond {
		t.Fatalf("a blackholed source cost %v", extra)
	}
}

// Every source down and no bundle: exit 3; each source is listed with its cause and a hint.
func TestEverySourceDown(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	o.Official = []string{mirrortest.ClosedURL(), "https://go.invalid/dl/"}
	o.Mirrors = []string{"http://" + mirrortest.Blackhole(t) + "/golang/"}
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	o.GOPROXY = notFound.URL
	o.ProbeTimeout = 500 * time.Millisecond
	// The blackholed mirror, demoted by its probe, is still tried with the download's budgets
	// (a connect and its retries): a short connect timeout keeps that to seconds, not 4 x 10 s.
	o.Download.ConnectTimeout = 500 * time.Millisecond
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.ExitCode() != ExitNoSource {
		t.Fatalf("exit %d: %v", rep.ExitCode(), err)
	}
	classes := map[string]failure.Class{}
	for _, a := range rep.Attempts {
		if a.Error == nil || a.Error.Hint == "" {
			t.Errorf("attempt without cause or hint: %+v", a)
			continue
		}
		classes[a.Source] = a.Error.Class
	}
	// Off Linux the blackhole accepts and never answers (mirrortest.Blackhole): a stall.
	blackholed := failure.TCPTimeout
	if runtime.GOOS != "linux" {
		blackholed = failure.Stalled
	}
	want := map[string]failure.Class{o.Official[0]: failure.TCPRefused, o.Official[1]: failure.DNS,
		o.Mirrors[0]: blackholed, notFound.URL: failure.NotFound}
	for src, c := range want {
		if classes[src] != c {
			t.Errorf("%s: class %q, want %q (all: %v)", src, classes[src], c, classes)
		}
	}
	for _, w := range []string{"gostrap doctor", "bundle"} {
		if !strings.Contains(rep.Error.Hint, w) {
			t.Errorf("final hint lacks %q: %s", w, rep.Error.Hint)
		}
	}
}

// A mirror that answers slowly is tried after one that answers fast, whatever the order given.
func TestSlowMirrorRankedLast(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		fixture.MirrorHandler().ServeHTTP(w, r)
	}))
	defer slow.Close()
	o := testOptions(t, s)
	o.Mirrors = []string{slow.URL + "/golang/", s.MirrorURL()}
	o.Sources = []Kind{KindMirror}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Source.URL, s.MirrorURL()) {
		t.Fatalf("installed from %s, want the fast mirror", rep.Source.URL)
	}
}

// A source whose probe timed out is demoted, not excluded: when nothing quicker can serve, it
// is tried with the download's longer budgets, and serves.
func TestSlowSourceIsDemotedNotExcluded(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("mode") == "json" {
			time.Sleep(1500 * time.Millisecond)
		}
		fixture.OfficialHandler().ServeHTTP(w, r)
	}))
	defer slow.Close()
	o := testOptions(t, s)
	o.Official = []string{slow.URL + "/dl/"}
	o.GOPROXY = "off"
	o.ProbeTimeout = 300 * time.Millisecond // the probe's HTTP stage gives up at 600 ms
	rep, err := install(t, mustInstaller(t, o), "latest")
	if err != nil || rep.Source.Kind != "official" {
		t.Fatalf("%v; attempts %+v", err, rep.Attempts)
	}
}
