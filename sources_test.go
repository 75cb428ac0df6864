package gostrap

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// counting serves h and counts the requests.
func counting(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// --sources means what it says: kinds it leaves out are not contacted. The one exception, the
// official index, is asked only to vouch for a mirror's archive.
func TestSourcesMeansWhatItSays(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	official, officialHits := counting(t, fixture.OfficialHandler())
	mirrorSrv, mirrorHits := counting(t, fixture.MirrorHandler())
	proxy, proxyHits := counting(t, fixture.ProxyHandler())
	for _, tc := range []struct {
		name                string
		sources             []Kind
		official, mir, prox bool // contacted
		kind                string
	}{
		{"proxy", []Kind{KindProxy}, false, false, true, "proxy"},
		{"official", []Kind{KindOfficial}, true, false, false, "official"},
		{"mirror, vouched for by the official index", []Kind{KindMirror}, true, true, false, "mirror"},
		{"bundle, official", []Kind{KindBundle, KindOfficial}, true, false, false, "official"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			officialHits.Store(0)
			mirrorHits.Store(0)
			proxyHits.Store(0)
			o := testOptions(t, s)
			o.Official = []string{official.URL + "/dl/"}
			o.Mirrors = []string{mirrorSrv.URL + "/golang/"}
			o.GOPROXY = proxy.URL
			o.Sources = tc.sources
			rep, err := install(t, mustInstaller(t, o), "1.22.3")
			if err != nil || rep.Source.Kind != tc.kind {
				t.Fatalf("%v %+v", err, rep.Source)
			}
			got := [3]bool{officialHits.Load() > 0, mirrorHits.Load() > 0, proxyHits.Load() > 0}
			if want := [3]bool{tc.official, tc.mir, tc.prox}; got != want {
				t.Fatalf("contacted official, mirror, proxy: %v (requests %d %d %d), want %v", got,
					officialHits.Load(), mirrorHits.Load(), proxyHits.Load(), want)
			}
		})
	}
}

// A GOPROXY given (option or environment) means no go command is run to ask for it.
func TestGivenGOPROXYRunsNoGoCommand(t *testing.T) {
	bin := gostrapBinary(t)
	s := mirrortest.Start(t, fixture)
	fake := t.TempDir()
	marker := filepath.Join(fake, "go-was-run")
	os.WriteFile(filepath.Join(fake, "go"), []byte("#!/bin/sh\ntouch "+marker+"\necho\necho\n"), 0o755)
	tmp := t.TempDir()
	for _, env := range [][]string{
		{"GOPROXY=" + s.ProxyURL()},
		{"GOPROXY=", "GOSTRAP_GOPROXY_FLAG=1"},
	} {
		os.Remove(marker)
		args := []string{"install", "1.22.3", "--sources", "proxy"}
		if env[len(env)-1] == "GOSTRAP_GOPROXY_FLAG=1" {
			args = append(args, "--goproxy", s.ProxyURL())
		}
		e := procEnv(s, filepath.Join(tmp, "go"), filepath.Join(tmp, "cache"), env...)
		e = append(e, "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
		e = withoutEnv(e, "GOSUMDB")
		e = append(e, "GOSUMDB="+s.GOSUMDB())
		if out, err := runProc(e, bin, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%v: the go command was run", env)
		}
		os.RemoveAll(filepath.Join(tmp, "go"))
	}
	// Nor for GOSUMDB, when only GOPROXY is given (the install then looks for sum.golang.org's
	// records in the test's proxy and fails: what matters is that no go command ran).
	os.Remove(marker)
	e0 := withoutEnv(procEnv(s, filepath.Join(tmp, "go"), filepath.Join(tmp, "cache")), "GOSUMDB")
	e0 = append(e0, "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	runProc(e0, bin, "install", "1.22.3", "--sources", "proxy", "--goproxy", s.ProxyURL())
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("GOPROXY given, GOSUMDB not: the go command was run")
	}

	// With no GOPROXY at all and the proxy kind in use, it is; with the proxy kind left out,
	// GOPROXY is never needed.
	e := procEnv(s, filepath.Join(tmp, "go"), filepath.Join(tmp, "cache"))
	e = withoutEnv(e, "GOPROXY")
	e = append(e, "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := runProc(e, bin, "install", "1.22.3", "--sources", "official"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the go command was asked for GOPROXY with the proxy kind left out")
	}
	os.RemoveAll(filepath.Join(tmp, "go"))
	runProc(e, bin, "install", "1.22.3", "--sources", "proxy")
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the go command was not asked for GOPROXY when nothing gave it")
	}
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if len(e) > len(key) && e[:len(key)+1] == key+"=" {
			continue
		}
		out = append(out, e)
	}
	return out
}

// The cache lists a release by either of its download names: on Windows a module zip's name
// also ends as the release archive's does (.windows-amd64.zip), and is still a module zip.
func TestCachedVersions(t *testing.T) {
	for _, p := range []mirror.Platform{{OS: "linux", Arch: "arm"}, {OS: "windows", Arch: "amd64"}} {
		in := mustInstaller(t, Options{Dir: t.TempDir(), CacheDir: t.TempDir(), Platform: p})
		for _, name := range []string{p.ArchiveName("go1.21.13"), "golang.org-toolchain@" + p.ToolchainVersion("go1.22.3") + ".zip"} {
			partial := in.cache.Download(name) + ".partial"
			os.MkdirAll(filepath.Dir(partial), 0o755)
			if err := os.WriteFile(partial, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := in.cache.Keep(partial, name, layout.Record{Size: 1}); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, v := range in.cachedVersions() {
			got = append(got, v.Version)
		}
		mirror.SortVersions(got)
		if strings.Join(got, " ") != "go1.21.13 go1.22.3" {
			t.Errorf("%s: cached %q, want go1.21.13 and go1.22.3", p, got)
		}
	}
}

// With every online source down, a reinstall takes the offline branch without a flag: the
// release verified earlier and kept in the cache, trusted through the record of that
// verification, and the report says why.
func TestReinstallWithEverySourceDown(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	if _, err := install(t, mustInstaller(t, o), "1.22.3"); err != nil {
		t.Fatal(err)
	}
	in := mustInstaller(t, o)
	if _, err := in.Uninstall("1.22.3", true); err != nil {
		t.Fatal(err)
	}
	closed := mirrortest.ClosedURL()
	o.Official, o.Mirrors, o.GOPROXY = []string{closed}, []string{closed}, closed
	for _, spec := range []string{"1.22.3", "1.22"} {
		rep, err := install(t, mustInstaller(t, o), spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if rep.Source.Kind != "cache" || rep.Offline == "" || rep.Verified.Method != "sha256+sumdb-tree" && rep.Verified.Method != "sha256" {
			t.Fatalf("%s: source %+v, verified %+v, offline %q", spec, rep.Source, rep.Verified, rep.Offline)
		}
		t.Logf("%s: %s; verified by %s (%s)", spec, rep.Offline, rep.Verified.Method, rep.Verified.TrustedBy)
		if _, err := in.Uninstall("1.22.3", true); err != nil {
			t.Fatal(err)
		}
	}
	// A cached file changed since: refused, never installed.
	name := mirrortest.Host.ArchiveName("go1.22.3")
	cached := filepath.Join(o.CacheDir, "dl", name)
	data, _ := os.ReadFile(cached)
	os.WriteFile(cached, mirrortest.Flip(data, len(data)/2), 0o644)
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.ExitCode() != ExitVerification {
		t.Fatalf("a changed cache file: exit %d, %v", rep.ExitCode(), err)
	}
}

// With nothing configured, the catalogue's proxies fall through on any error: go.dev (direct)
// refused, the first community proxy refused, the second serves. The public hosts are pinned
// with --resolve to loopback addresses of their own (127.0.0.0/8), the serving one on port 443
// with a certificate for its name from a CA the test trusts.
func TestCatalogueProxiesFallThrough(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	ca := mirrortest.NewCA("Catalogue Test CA")
	host := strings.TrimPrefix(mirror.CatalogueProxies[2].URL, "https://")
	l, err := net.Listen("tcp", "127.0.0.2:443")
	if err != nil {
		t.Skip("cannot listen on 127.0.0.2:443 (needs root):", err)
	}
	srv := httptest.NewUnstartedServer(fixture.ProxyHandler())
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(mirrortest.LeafOptions{Hosts: []string{host}})}}
	srv.StartTLS()
	defer srv.Close()
	t.Setenv("PATH", t.TempDir()) // no go command to ask for GOPROXY
	t.Setenv("GOPROXY", "")
	o := testOptions(t, s)
	o.GOPROXY = ""
	o.Sources = []Kind{KindProxy}
	o.Download.CAFile = ca.WriteFile(t.TempDir())
	o.Download.Resolve = []string{"go.dev:443:127.0.0.3", "goproxy.cn:443:127.0.0.4", host + ":443:127.0.0.2"}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Attempts)
	}
	if rep.Verified.Method != "sumdb" || !strings.Contains(rep.Source.URL, host) {
		t.Fatalf("installed from %+v, verified %+v", rep.Source, rep.Verified)
	}
	t.Logf("installed from %s after go.dev and goproxy.cn refused", rep.Source.URL)
}
