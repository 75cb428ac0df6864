package gostrap

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// proxyOnly returns options that can only install through the given GOPROXY, with the fixture's
// checksum database reached through it.
func proxyOnly(t *testing.T, s *mirrortest.Servers, goproxy string) Options {
	o := testOptions(t, s)
	o.Official = []string{"off"}
	o.GOPROXY = goproxy
	o.Sources = []Kind{KindProxy}
	o.Download.HeaderTimeout = 500 * time.Millisecond
	return o
}

func treeDigest(t *testing.T, root string) string {
	t.Helper()
	d, err := mirrortest.TreeDigest(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withZip serves the fixture's proxy, except that the zip of mod is replaced.
func withZip(f *mirrortest.Fixture, mod string, data []byte) http.Handler {
	h := f.ProxyHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/@v/"+mod+".zip") {
			http.ServeContent(w, r, "z.zip", time.Time{}, bytes.NewReader(data))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// rezip rebuilds a zip with one file's content replaced: a valid zip with other bytes.
func rezip(t *testing.T, data []byte, suffix string, content []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if strings.HasSuffix(f.Name, suffix) {
			w.Write(content)
			continue
		}
		rc, _ := f.Open()
		io.Copy(w, rc)
		rc.Close()
	}
	zw.Close()
	return buf.Bytes()
}

// installDigest digests what an install directory holds for users: the toolchains and the
// current link (gostrap's own lock files aside), and checks that no staging is left.
func installDigest(t *testing.T, dir string) string {
	t.Helper()
	if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "staging")); len(ents) > 0 {
		t.Fatalf("staging left: %v", ents)
	}
	var parts []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != ".gostrap" {
			parts = append(parts, e.Name()+" "+treeDigest(t, filepath.Join(dir, e.Name())))
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "current")); err == nil {
		parts = append(parts, "current -> "+l)
	}
	return strings.Join(parts, "\n")
}

// securityInstall installs the versions in before through the before proxy, then go1.22.3
// through attack, and checks that the last install fails with a SECURITY ERROR, exit 4, and
// the directory untouched.
func securityInstall(t *testing.T, o Options, before http.Handler, versions []string, attack http.Handler) {
	t.Helper()
	b := httptest.NewServer(before)
	defer b.Close()
	o.GOPROXY = b.URL
	for _, v := range versions {
		if _, err := install(t, mustInstaller(t, o), v); err != nil {
			t.Fatal(err)
		}
	}
	digest := installDigest(t, o.Dir)
	srv := httptest.NewServer(attack)
	defer srv.Close()
	o.GOPROXY = srv.URL
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil {
		t.Fatal("installed")
	}
	if rep.ExitCode() != ExitVerification || rep.Error.Class != failure.SumDBSecurity {
		t.Fatalf("exit %d class %s: %v", rep.ExitCode(), rep.Error.Class, err)
	}
	if !strings.HasPrefix(err.Error(), "SECURITY ERROR") {
		t.Fatalf("message: %v", err)
	}
	if after := installDigest(t, o.Dir); after != digest {
		t.Fatalf("install directory changed:\n%s\n%s", digest, after)
	}
}

func TestProxySecurity(t *testing.T) {
	mod := mirrortest.Host.ToolchainVersion("go1.22.3")
	good := fixture.ModZips[mod]
	honest := fixture.ProxyHandler()
	t.Run("one byte flipped", func(t *testing.T) {
		s := mirrortest.Start(t, fixture)
		securityInstall(t, proxyOnly(t, s, ""), honest, []string{"1.21.13"}, withZip(fixture, mod, mirrortest.Flip(good, len(good)/3)))
	})
	t.Run("one file changed", func(t *testing.T) {
		s := mirrortest.Start(t, fixture)
		securityInstall(t, proxyOnly(t, s, ""), honest, []string{"1.21.13"}, withZip(fixture, mod, rezip(t, good, "/"+mirrortest.GoCmd(mirrortest.Host), []byte("#!/bin/sh\necho evil\n"))))
	})
	t.Run("log lists another hash", func(t *testing.T) {
		s := mirrortest.Start(t, fixture)
		// A log (same key) whose record for go1.22.3 is the hash of other bytes.
		liar := sumdb.NewTestServer(fixture.SKey, func(path, vers string) ([]byte, error) {
			if vers == mod {
				h, _ := mirrortest.HashZip(rezip(t, good, "/"+mirrortest.GoCmd(mirrortest.Host), []byte("other")))
				return fmt.Appendf(nil, "%s %s %s\n", path, vers, h), nil
			}
			return fixture.GoSum(path, vers)
		})
		h := sumdbOverride(fixture, liar)
		securityInstall(t, proxyOnly(t, s, ""), h, []string{"1.21.13"}, h)
	})
	t.Run("forked tree head", func(t *testing.T) {
		s := mirrortest.Start(t, fixture)
		// The client sees a log holding go1.21.13 then go1.20.14; the fork, under the same
		// key, holds them in the other order, then go1.22.3.
		log := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
		fork := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
		for _, v := range []string{"go1.20.14", "go1.21.13"} {
			fork.Lookup(context.Background(), moduleVersion(v))
		}
		securityInstall(t, proxyOnly(t, s, ""), sumdbOverride(fixture, log), []string{"1.21.13", "1.20.14"}, sumdbOverride(fixture, fork))
	})
	t.Run("rolled-back tree head", func(t *testing.T) {
		s := mirrortest.Start(t, fixture)
		// The client sees a log of three records; the log is then reset and shows one other.
		log := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
		reset := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
		securityInstall(t, proxyOnly(t, s, ""), sumdbOverride(fixture, log), []string{"1.20.14", "1.21.0", "1.21.13"}, sumdbOverride(fixture, reset))
	})
}

func moduleVersion(v string) module.Version {
	return module.Version{Path: mirror.ToolchainModule, Version: mirrortest.Host.ToolchainVersion(v)}
}

// sumdbOverride serves the fixture's proxy with another checksum database behind /sumdb/.
func sumdbOverride(f *mirrortest.Fixture, ops sumdb.ServerOps) http.Handler {
	proxy := f.ProxyHandler()
	db := sumdb.NewServer(ops)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+f.DBName+"/"); ok && rest != "supported" {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + rest
			db.ServeHTTP(w, r2)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// "," falls through only on 404/410; "|" on any error, a timeout included.
func TestProxyListFallThrough(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	notFound := httptest.NewServer(http.NotFoundHandler())
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	for _, srv := range []*httptest.Server{notFound, broken, slow} {
		defer srv.Close()
		defer srv.CloseClientConnections()
	}
	good := s.ProxyURL()
	for _, tc := range []struct {
		name, goproxy string
		ok            bool
		class         failure.Class
	}{
		{"404 then good", notFound.URL + "," + good, true, ""},
		{"500 stops a comma list", broken.URL + "," + good, false, failure.HTTPStatus},
		{"500 falls through a pipe", broken.URL + "|" + good, true, ""},
		// A server that accepts the request and never answers has stalled; it is not a
		// firewall dropping the connection.
		{"stall stops a comma list", slow.URL + "," + good, false, failure.Stalled},
		{"stall falls through a pipe", slow.URL + "|" + good, true, ""},
		{"off", "off", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := proxyOnly(t, s, tc.goproxy)
			o.Download.RetryMax = -1
			rep, err := install(t, mustInstaller(t, o), "1.22.3")
			if tc.ok {
				if err != nil || rep.Verified.Method != "sumdb" {
					t.Fatalf("%+v %v", rep.Verified, err)
				}
				// The report names each proxy tried, the one that served last: not the list.
				last := rep.Attempts[len(rep.Attempts)-1]
				if last.Error != nil || last.Source != good || strings.Contains(last.Source, ",") || strings.Contains(last.Source, "|") {
					t.Fatalf("attempts %+v", rep.Attempts)
				}
				return
			}
			if err == nil {
				t.Fatal("installed")
			}
			if tc.class != "" && rep.Error.Class != tc.class {
				t.Fatalf("class %s: %v", rep.Error.Class, err)
			}
			if rep.ExitCode() != ExitNoSource {
				t.Fatalf("exit %d: %v", rep.ExitCode(), err)
			}
		})
	}
}

// With the official index out of reach, a mirror's archive is proven genuine by the
// checksum database (sumdb-tree), and the files the module leaves out are not installed.
func TestMirrorProvenByTreeHash(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	o.Official = []string{mirrortest.ClosedURL()}
	o.Mirrors = []string{s.MirrorURL()}
	o.Sources = []Kind{KindMirror}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified.Method != "sumdb-tree" || !strings.HasPrefix(rep.Verified.Digest, "h1:") {
		t.Fatalf("verified %+v", rep.Verified)
	}
	for _, d := range []string{"test", "api", "doc", "misc"} {
		if _, err := os.Stat(filepath.Join(rep.GOROOT, d)); !os.IsNotExist(err) {
			t.Errorf("%s/ installed unverified", d)
		}
	}
	if _, err := os.Stat(filepath.Join(rep.GOROOT, "src", "cmd", "go.mod")); err != nil {
		t.Error(err)
	}
}

func TestMirrorTreeHashRefusesChangedFile(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	p := mirrortest.Host
	tree := maps.Clone(fixture.Trees["go1.22.3 "+p.String()])
	tree["src/fmt/print.go"] = mirrortest.File{Data: []byte("package fmt // evil\n"), Mode: 0o644}
	evil, err := mirrortest.ReleaseArchive(p, tree)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, s)
	o.Official = []string{mirrortest.ClosedURL()}
	o.Mirrors = []string{mirrorOf(t, p.ArchiveName("go1.22.3"), evil)}
	o.Sources = []Kind{KindMirror}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.ExitCode() != ExitVerification || rep.Error.Class != failure.SumDBSecurity {
		t.Fatalf("exit %d: %v", rep.ExitCode(), err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "go1.22.3")); !os.IsNotExist(err) {
		t.Fatal("installed")
	}
	// A changed file the module does not cover is not caught by the tree hash, and is not
	// installed either.
	tree = maps.Clone(fixture.Trees["go1.22.3 "+p.String()])
	tree["test/run.go"] = mirrortest.File{Data: []byte("evil"), Mode: 0o644}
	evil, _ = mirrortest.ReleaseArchive(p, tree)
	o.Mirrors = []string{mirrorOf(t, p.ArchiveName("go1.22.3"), evil)}
	rep, err = install(t, mustInstaller(t, o), "1.22.3")
	if err != nil || rep.Verified.Method != "sumdb-tree" {
		t.Fatalf("%v %+v", err, rep.Verified)
	}
	if _, err := os.Stat(filepath.Join(rep.GOROOT, "test")); !os.IsNotExist(err) {
		t.Fatal("unverified test/ installed")
	}
}

// TestLiveProxy installs a real toolchain through this machine's GOPROXY and checksum
// database and runs its go command. It needs the network: set GOSTRAP_LIVE=1 to run it.
func TestLiveProxy(t *testing.T) {
	if os.Getenv("GOSTRAP_LIVE") == "" {
		t.Skip("set GOSTRAP_LIVE=1 to install a real toolchain through the configured GOPROXY")
	}
	os.Unsetenv(download.TestNetworkEnv)
	defer os.Setenv(download.TestNetworkEnv, "loopback")
	version := os.Getenv("GOSTRAP_LIVE_VERSION")
	if version == "" {
		version = "1.22.12"
	}
	tmp := t.TempDir()
	in := mustInstaller(t, Options{Dir: filepath.Join(tmp, "go"), CacheDir: filepath.Join(tmp, "cache"),
		Official: []string{"off"}, Mirrors: []string{"off"}, Log: testLog{t}})
	rep, err := install(t, in, version)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified.Method != "sumdb" {
		t.Fatalf("verified by %s", rep.Verified.Method)
	}
	out, err := exec.Command(filepath.Join(rep.GOROOT, "bin", "go"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), rep.Version+" ") {
		t.Fatalf("go version: %s %v", out, err)
	}
	t.Logf("%s", out)
}

// TestLiveBundleGoCommand makes a bundle of a real toolchain through the configured GOPROXY,
// then has the real go command switch to it with the bundle as a file:// GOPROXY, checking the
// bundle's copy of sum.golang.org. Set GOSTRAP_LIVE=1 to run it.
func TestLiveBundleGoCommand(t *testing.T) {
	if os.Getenv("GOSTRAP_LIVE") == "" {
		t.Skip("set GOSTRAP_LIVE=1 to bundle a real toolchain through the configured GOPROXY")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	os.Unsetenv(download.TestNetworkEnv)
	defer os.Setenv(download.TestNetworkEnv, "loopback")
	tmp := t.TempDir()
	in := mustInstaller(t, Options{Dir: filepath.Join(tmp, "go"), CacheDir: filepath.Join(tmp, "cache"),
		Official: []string{"off"}, Mirrors: []string{"off"}, Log: testLog{t}})
	out := filepath.Join(tmp, "bundle")
	if _, err := in.SyncTree(context.Background(), TreeOptions{Out: out, Specs: []string{"1.22.12"}, Zips: true}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, "version")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOPROXY=file://"+out, "GOSUMDB=sum.golang.org", "GOTOOLCHAIN=go1.22.12",
		"GOPATH="+filepath.Join(tmp, "gopath"), "GOMODCACHE="+filepath.Join(tmp, "gopath", "mod"), "GOFLAGS=-modcacherw")
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "go1.22.12") {
		t.Fatalf("go version: %s %v", got, err)
	}
	t.Logf("%s", got)
}

// A module zip is extracted while it downloads: the server holds back the last chunk before
// the zip's tail until an entry from the first chunk has been written to staging. An install
// that waited for the whole zip would never see that chunk released, and fails.
func TestProxyZipExtractsWhileDownloading(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := proxyOnly(t, s, "")
	const seg = 32 << 10
	o.Download.SegmentThreshold, o.Download.SegmentSize = 64<<10, seg
	o.Download.HeaderTimeout = 10 * time.Second
	root := filepath.Dir(o.Dir)
	mv := mirrortest.Host.ToolchainVersion("go1.22.3")
	size := int64(len(fixture.ModZips[mv]))
	tail := max(1, (size-2*seg)/seg) // the first chunk of the tail gostrap asks for early
	held := (tail - 1) * seg
	var released, sawEntry atomic.Bool
	proxy := fixture.ProxyHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".zip") && r.Header.Get("Range") == fmt.Sprintf("bytes=%d-%d", held, held+seg-1) {
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && !sawEntry.Load() {
				filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err == nil && d.Name() == "LICENSE" && d.Type().IsRegular() {
						sawEntry.Store(true)
					}
					return nil
				})
				time.Sleep(5 * time.Millisecond)
			}
			released.Store(true)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	o.GOPROXY = srv.URL
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	if !released.Load() {
		t.Fatalf("the chunk at %d (zip of %d bytes) was never asked for", held, size)
	}
	if !sawEntry.Load() {
		t.Fatal("no entry was extracted before the download finished")
	}
	if rep.Verified.Method != "sumdb" {
		t.Fatalf("verified by %q", rep.Verified.Method)
	}
	want := fixture.Trees["go1.22.3 "+mirrortest.Host.String()]
	for name, f := range want {
		switch strings.SplitN(name, "/", 2)[0] {
		case "api", "doc", "misc", "test":
			continue
		}
		got, err := os.ReadFile(filepath.Join(rep.GOROOT, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: differs from the release (%v)", name, err)
		}
	}
}

// A zip refused while it downloads (a flipped byte in an entry) fails the checksum database's
// check and installs nothing, as a whole-file extraction would.
func TestProxyZipOverlappedRefusesFlip(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := proxyOnly(t, s, "")
	o.Download.SegmentThreshold, o.Download.SegmentSize = 64<<10, 32<<10
	mv := mirrortest.Host.ToolchainVersion("go1.22.3")
	flipped := &mirrortest.FaultServer{H: fixture.ProxyHandler(),
		Fault: mirrortest.Fault{Kind: mirrortest.FlipByte, Offset: int64(len(fixture.ModZips[mv]) / 2)},
		Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".zip") }}
	srv := httptest.NewServer(flipped)
	defer srv.Close()
	o.GOPROXY = srv.URL
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.ExitCode() != ExitVerification || rep.Error.Class != failure.SumDBSecurity {
		t.Fatalf("got %v, want a %s failure", err, failure.SumDBSecurity)
	}
	if flipped.Faulted.Load() == 0 {
		t.Fatal("the flip was never served")
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "go1.22.3")); !os.IsNotExist(err) {
		t.Fatalf("something was installed: %v", err)
	}
}
