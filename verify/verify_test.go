package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

func TestMain(m *testing.M) {
	os.Setenv(download.TestNetworkEnv, "loopback")
	os.Exit(m.Run())
}

var fixture = func() *mirrortest.Fixture {
	f, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.20.14", "go1.21.13", "go1.22.0", "go1.22.3"}, Platforms: []mirror.Platform{mirrortest.Host}})
	if err != nil {
		panic(err)
	}
	return f
}()

// The h1 computed from digests taken while writing equals dirhash.Hash1 over the contents.
func TestHashesMatchDirhash(t *testing.T) {
	files := map[string][]byte{"a/b.go": []byte("package b\n"), "go.mod": []byte("module m\n"), "z": nil, "a/a": []byte("x")}
	var h verify.Hashes
	var names []string
	for n, d := range files {
		sum := sha256.Sum256(d)
		h.Add(n, sum[:])
		names = append(names, "m@v1.0.0/"+n)
	}
	want, err := dirhash.Hash1(names, func(n string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files[strings.TrimPrefix(n, "m@v1.0.0/")])), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := h.H1Prefixed("m@v1.0.0/"); got != want {
		t.Fatalf("H1 = %s, dirhash.Hash1 = %s", got, want)
	}
}

// The tree hash of a release, under the toolchain mapping, equals the h1 of the module zip built
// from it (by mirrortest's own statement of the mapping).
func TestToolchainH1MatchesModuleZip(t *testing.T) {
	p := mirrortest.Host
	tree := mirrortest.Tree("go1.22.3", p, []byte("pad"))
	var h verify.Hashes
	for n, f := range tree {
		sum := sha256.Sum256(f.Data)
		h.Add(n, sum[:])
	}
	zip, err := mirrortest.ModuleZip(p.ToolchainVersion("go1.22.3"), tree)
	if err != nil {
		t.Fatal(err)
	}
	want, err := mirrortest.HashZip(zip)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.ToolchainH1(p.ToolchainVersion("go1.22.3"))
	if err != nil || got != want {
		t.Fatalf("tree h1 %s, module zip h1 %s (%v)", got, want, err)
	}
	// A changed file in an omitted directory does not change it; one elsewhere does.
	h.Add("test/run.go", make([]byte, 32))
	if got2, _ := h.ToolchainH1(p.ToolchainVersion("go1.22.3")); got2 != want {
		t.Error("test/ is covered by the module hash")
	}
	h.Add("src/fmt/new.go", make([]byte, 32))
	if got3, _ := h.ToolchainH1(p.ToolchainVersion("go1.22.3")); got3 == want {
		t.Error("src/ is not covered by the module hash")
	}
}

func TestToolchainName(t *testing.T) {
	for in, want := range map[string]string{
		"bin/go": "bin/go", "src/go.mod": "src/_go.mod", "src/cmd/go.mod": "src/cmd/_go.mod",
		"go.mod": "_go.mod", "src/go.modx": "src/go.modx", "test/x": "", "api/go1.txt": "", "doc/x": "",
		"misc/x": "", ".github/x": "", "testdata/x": "testdata/x",
	} {
		got, ok := verify.ToolchainName(in)
		if want == "" && ok || want != "" && got != want {
			t.Errorf("ToolchainName(%q) = %q %v, want %q", in, got, ok, want)
		}
		if ok && verify.ReleaseName(got) != in {
			t.Errorf("ReleaseName(%q) = %q, want %q", got, verify.ReleaseName(got), in)
		}
	}
}

func TestParseGOSUMDB(t *testing.T) {
	for _, tc := range []struct {
		in, name, url, ignored string
		err                    bool
	}{
		{"", "sum.golang.org", "", "", false},
		{"off", "sum.golang.org", "", "GOSUMDB=off", false},
		{"sum.golang.org", "sum.golang.org", "", "", false},
		{"sum.golang.google.cn", "sum.golang.org", "https://sum.golang.google.cn", "", false},
		{"sum.golang.org https://sum.example.test/", "sum.golang.org", "https://sum.example.test", "", false},
		{fixture.VKey, "sum.test", "", "", false},
		{fixture.VKey + " http://127.0.0.1:1", "sum.test", "http://127.0.0.1:1", "", false},
		{"a b c", "", "", "", true},
		{"nokey.test", "", "", "", true},
	} {
		db, err := verify.ParseGOSUMDB(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseGOSUMDB(%q) err = %v", tc.in, err)
			continue
		}
		if err == nil && (db.Name != tc.name || db.URL != tc.url || db.Ignored != tc.ignored) {
			t.Errorf("ParseGOSUMDB(%q) = %+v", tc.in, db)
		}
	}
}

func newClient(t *testing.T) *download.Client {
	c, err := download.New(download.Config{RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSumDB(t *testing.T, proxyURL, cache string, offline bool) *verify.SumDB {
	t.Helper()
	db, err := verify.ParseGOSUMDB(fixture.VKey)
	if err != nil {
		t.Fatal(err)
	}
	list, err := mirror.ParseGOPROXY(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &mirror.SumDBRemote{Client: newClient(t), Proxies: list, Name: db.Name, URL: db.URL}
	remote := r.Read
	if offline {
		remote = func(context.Context, string) ([]byte, error) { return nil, verify.ErrOffline }
	}
	return verify.NewSumDB(db, remote, layout.Cache{Dir: cache}.SumDB())
}

// The database is found through the proxy, verified, cached, and then answers offline.
func TestSumDBThroughProxyThenOffline(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	cache := t.TempDir()
	mod := mirrortest.Host.ToolchainVersion("go1.22.3")
	want, _ := mirrortest.HashZip(fixture.ModZips[mod])
	got, err := newSumDB(t, s.ProxyURL(), cache, false).Lookup(context.Background(), verify.ToolchainModule, mod)
	if err != nil || got != want {
		t.Fatalf("Lookup = %s, %v; want %s", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(cache, "sumdb", "sum.test", "latest")); err != nil {
		t.Fatal("verified tree head not cached:", err)
	}
	s.Close()
	got, err = newSumDB(t, s.ProxyURL(), cache, true).Lookup(context.Background(), verify.ToolchainModule, mod)
	if err != nil || got != want {
		t.Fatalf("offline Lookup = %s, %v", got, err)
	}
	_, err = newSumDB(t, s.ProxyURL(), cache, true).Lookup(context.Background(), verify.ToolchainModule, mirrortest.Host.ToolchainVersion("go1.21.13"))
	if !errors.Is(err, verify.ErrOffline) {
		t.Fatalf("offline lookup of an uncached version: %v", err)
	}
}

// A proxy answering 404 for /sumdb/<name>/supported falls through to the next, as cmd/go does.
func TestSumDBProxyFallThrough(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	empty := httptest.NewServer(http.NotFoundHandler())
	defer empty.Close()
	mod := mirrortest.Host.ToolchainVersion("go1.22.3")
	if _, err := newSumDB(t, empty.URL+","+s.ProxyURL(), t.TempDir(), false).Lookup(context.Background(), verify.ToolchainModule, mod); err != nil {
		t.Fatal(err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer broken.Close()
	_, err := newSumDB(t, broken.URL+","+s.ProxyURL(), t.TempDir(), false).Lookup(context.Background(), verify.ToolchainModule, mod)
	if failure.Classify(err) != failure.HTTPStatus {
		t.Fatalf("500 after ',': %v", err)
	}
	if _, err := newSumDB(t, broken.URL+"|"+s.ProxyURL(), t.TempDir(), false).Lookup(context.Background(), verify.ToolchainModule, mod); err != nil {
		t.Fatalf("500 after '|' did not fall through: %v", err)
	}
}

// lookupVia looks mod up in a database served by ops, with the client state in cache.
func lookupVia(t *testing.T, ops sumdb.ServerOps, cache, mod string) (string, error) {
	srv := httptest.NewServer(sumdb.NewServer(ops))
	defer srv.Close()
	db, _ := verify.ParseGOSUMDB(fixture.VKey + " " + srv.URL)
	r := &mirror.SumDBRemote{Client: newClient(t), Name: db.Name, URL: db.URL}
	return verify.NewSumDB(db, r.Read, layout.Cache{Dir: cache}.SumDB()).
		Lookup(context.Background(), verify.ToolchainModule, mod)
}

func tcv(v string) string { return mirrortest.Host.ToolchainVersion(v) }

// Two logs signed by the same key that disagree are a fork: SECURITY ERROR.
func TestSumDBFork(t *testing.T) {
	a, b, c := tcv("go1.22.3"), tcv("go1.21.13"), tcv("go1.20.14")
	cache := t.TempDir()
	logA := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
	for _, m := range []string{a, b} {
		if _, err := lookupVia(t, logA, cache, m); err != nil {
			t.Fatal(err)
		}
	}
	// Another log under the same key, with the records in another order: its tree does not
	// contain the one this client has seen.
	logB := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
	for _, m := range []string{b, a} {
		lookupVia(t, logB, t.TempDir(), m)
	}
	_, err := lookupVia(t, logB, cache, c)
	var se *verify.SecurityError
	if !errors.As(err, &se) || failure.Classify(err) != failure.SumDBSecurity {
		t.Fatalf("fork: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "SECURITY ERROR") || !strings.Contains(err.Error(), "misbehavior") {
		t.Fatalf("message: %v", err)
	}
}

// A log rolled back to an earlier size, then grown differently: SECURITY ERROR.
func TestSumDBRollback(t *testing.T) {
	a, b, c, d := tcv("go1.22.3"), tcv("go1.21.13"), tcv("go1.20.14"), tcv("go1.22.0")
	cache := t.TempDir()
	log := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
	for _, m := range []string{a, b, c} {
		if _, err := lookupVia(t, log, cache, m); err != nil {
			t.Fatal(err)
		}
	}
	// Reset to empty, then one new record: a tree of size 1 that is not the first record seen.
	reset := sumdb.NewTestServer(fixture.SKey, fixture.GoSum)
	_, err := lookupVia(t, reset, cache, d)
	var se *verify.SecurityError
	if !errors.As(err, &se) {
		t.Fatalf("rollback: %v", err)
	}
}

// A tree head signed by another key is not believed.
func TestSumDBOtherKey(t *testing.T) {
	other, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{mirrortest.Host}})
	if err != nil {
		t.Fatal(err)
	}
	// Same name (sum.test), different key.
	_, err = lookupVia(t, sumdb.NewTestServer(other.SKey, fixture.GoSum), t.TempDir(), mirrortest.Host.ToolchainVersion("go1.22.3"))
	var se *verify.SecurityError
	if !errors.As(err, &se) {
		t.Fatalf("other key: %v", err)
	}
}
