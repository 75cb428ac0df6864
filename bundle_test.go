package gostrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
)

// makeBundle creates a tree for go1.22.3 and go1.21.13 on the host from the fixture's servers.
func makeBundle(t *testing.T, s *mirrortest.Servers, o TreeOptions) string {
	t.Helper()
	if o.Out == "" {
		o.Out = filepath.Join(t.TempDir(), "bundle")
	}
	if o.Specs == nil {
		o.Specs = []string{"1.22.3", "1.21.13"}
	}
	in := mustInstaller(t, testOptions(t, s))
	rep, err := in.SyncTree(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != len(o.Specs)*max(1, len(o.Platforms)) {
		t.Fatalf("entries %+v", rep.Entries)
	}
	return o.Out
}

// offlineOptions reach nothing on the network: every source is a closed port.
func offlineOptions(t *testing.T, s *mirrortest.Servers, bundle string) Options {
	o := testOptions(t, s)
	closed := mirrortest.ClosedURL()
	o.Official, o.Mirrors, o.GOPROXY = []string{closed}, []string{closed}, closed
	o.Bundles = []string{bundle}
	return o
}

func TestBundleInstallWithNetworkClosed(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	for _, o := range []TreeOptions{{Zips: true}, {Archives: true}, {Zips: true, Tar: true}} {
		b := makeBundle(t, s, o)
		rep, err := install(t, mustInstaller(t, offlineOptions(t, s, b)), "1.22")
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if rep.Source.Kind != "bundle" || rep.Verified.Method != "sumdb-offline" {
			t.Fatalf("%+v: from %s verified by %s", o, rep.Source.Kind, rep.Verified.Method)
		}
		if _, err := os.Stat(filepath.Join(rep.GOROOT, "src", "go.mod")); err != nil {
			t.Error(err)
		}
		if o.Archives {
			// Only the log vouched: what the module leaves out is not installed.
			if _, err := os.Stat(filepath.Join(rep.GOROOT, "test")); !os.IsNotExist(err) {
				t.Error("test/ installed from an archive only the log vouched for")
			}
		}
	}
}

// editBundle applies a change to a copy of a fresh bundle and returns it.
func editBundle(t *testing.T, s *mirrortest.Servers, o TreeOptions, edit func(dir string, m *offline.Manifest)) string {
	dir := makeBundle(t, s, o)
	data, err := os.ReadFile(filepath.Join(dir, offline.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m offline.Manifest
	json.Unmarshal(data, &m)
	edit(dir, &m)
	data, _ = json.MarshalIndent(m, "", " ")
	os.WriteFile(filepath.Join(dir, offline.ManifestName), data, 0o644)
	return dir
}

func TestTamperedBundles(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	p := mirrortest.Host
	zip := offline.ZipPath(p.ToolchainVersion("go1.22.3"))
	archive := p.ArchiveName("go1.22.3")
	rewrite := func(dir, path string, f func([]byte) []byte) {
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, path), f(data), 0o644)
	}
	// A tree head signed by another key under the same database name.
	other, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{p}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    TreeOptions
		edit func(dir string, m *offline.Manifest)
	}{
		{"flipped byte in an archive", TreeOptions{Archives: true}, func(dir string, m *offline.Manifest) {
			rewrite(dir, archive, func(b []byte) []byte { return mirrortest.Flip(b, len(b)/2) })
		}},
		{"flipped byte in a zip", TreeOptions{Zips: true}, func(dir string, m *offline.Manifest) {
			rewrite(dir, zip, func(b []byte) []byte { return mirrortest.Flip(b, len(b)/2) })
		}},
		{"truncated archive", TreeOptions{Archives: true}, func(dir string, m *offline.Manifest) {
			rewrite(dir, archive, func(b []byte) []byte { return b[:len(b)*2/3] })
		}},
		{"zip and manifest changed together", TreeOptions{Zips: true}, func(dir string, m *offline.Manifest) {
			// The attacker rewrites the manifest's digest too: the proof still catches it.
			evil := rezip(t, fixture.ModZips[p.ToolchainVersion("go1.22.3")], "/"+mirrortest.GoCmd(p), []byte("evil"))
			os.WriteFile(filepath.Join(dir, zip), evil, 0o644)
			for i, f := range m.Files {
				if f.Path == zip {
					m.Files[i].Size, m.Files[i].SHA256 = int64(len(evil)), hexSHA(evil)
				}
			}
		}},
		{"missing manifest entry", TreeOptions{Zips: true}, func(dir string, m *offline.Manifest) {
			for i, f := range m.Files {
				if f.Path == zip {
					m.Files = append(m.Files[:i], m.Files[i+1:]...)
					break
				}
			}
		}},
		{"proof signed by another key", TreeOptions{Zips: true}, func(dir string, m *offline.Manifest) {
			// Serve the other fixture's log (same name, another key) and record its answer.
			forged := httptest.NewServer(sumdb.NewServer(other.DB))
			defer forged.Close()
			c, _ := download.New(download.Config{})
			var e offline.Entry
			for _, x := range m.Entries {
				if x.Version == "go1.22.3" {
					e = x
				}
			}
			data, err := c.Get(context.Background(), forged.URL+"/lookup/golang.org/toolchain@"+e.Module, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, e.Record), data, 0o644)
			for i, f := range m.Files {
				if f.Path == e.Record {
					m.Files[i].Size, m.Files[i].SHA256 = int64(len(data)), hexSHA(data)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := editBundle(t, s, tc.o, tc.edit)
			// bundle verify
			tree, err := offline.Open(dir)
			if err == nil {
				in := mustInstaller(t, offlineOptions(t, s, dir))
				db, _ := in.SumDB(context.Background())
				v := tree.Verify(context.Background(), db.DB())
				tree.Close()
				if v.OK() {
					t.Fatal("bundle verify found nothing wrong")
				}
			} else if failure.Classify(err) != failure.ChecksumMismatch {
				t.Fatalf("open: %v", err)
			}
			// install, from the bundle alone
			o := offlineOptions(t, s, dir)
			rep, err := install(t, mustInstaller(t, o), "1.22.3")
			if err == nil || rep.ExitCode() != ExitVerification {
				t.Fatalf("install: exit %d: %v", rep.ExitCode(), err)
			}
			if _, err := os.Stat(filepath.Join(o.Dir, "go1.22.3")); !os.IsNotExist(err) {
				t.Fatal("installed")
			}
			t.Logf("%s: %s", rep.Error.Class, firstLine(rep.Attempts[len(rep.Attempts)-1].Error.Message))
		})
	}
}

// The go command itself switches to a toolchain from the bundle as a file:// GOPROXY, checking
// it against the bundle's checksum-database files (GOSUMDB set to the test database's key).
func TestGoCommandUsesBundleAsGOPROXY(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	dir := makeBundle(t, s, TreeOptions{Zips: true})
	s.Close() // nothing but the bundle from here on
	gopath := goVersionThrough(t, "file://"+filepath.ToSlash(dir), "go1.22.3")
	// It did check the bundle's checksum-database files.
	if _, err := os.Stat(filepath.Join(gopath, "pkg", "sumdb", "sum.test", "latest")); err != nil {
		t.Fatalf("the go command recorded no tree head from the bundle: %v", err)
	}
}

// mirror sync twice fetches nothing the second time; a deleted archive is the only refetch.
func TestMirrorSyncIncremental(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	out := filepath.Join(t.TempDir(), "mirror")
	in := mustInstaller(t, testOptions(t, s))
	o := TreeOptions{Out: out, Since: "1.21", Archives: true, Zips: true,
		Platforms: []mirror.Platform{mirrortest.Host, otherPlatform()}}
	rep, err := in.SyncTree(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// go1.21.0, go1.21.13, go1.22.0, go1.22.3 (not the rc) for two platforms.
	if len(rep.Entries) != 8 || rep.Added != 16 {
		t.Fatalf("first sync: %d entries, %d files added", len(rep.Entries), rep.Added)
	}
	rep, err = in.SyncTree(context.Background(), o)
	if err != nil || rep.Added != 0 || rep.Fetched != 0 {
		t.Fatalf("second sync: %d added, %d bytes: %v", rep.Added, rep.Fetched, err)
	}
	name := mirrortest.Host.ArchiveName("go1.22.0")
	os.Remove(filepath.Join(out, name))
	rep, err = in.SyncTree(context.Background(), o)
	if err != nil || rep.Added != 1 || rep.Fetched != int64(len(fixture.Archives[name])) {
		t.Fatalf("after deleting one archive: %d added, %d bytes: %v", rep.Added, rep.Fetched, err)
	}
	// The tree is an official site: its index.json lists the archives with their official sha256.
	idx, _ := os.ReadFile(filepath.Join(out, "index.json"))
	rs, err := mirror.ParseIndex(idx)
	if err != nil || len(rs) != 4 {
		t.Fatalf("index.json: %d releases, %v", len(rs), err)
	}
	if f, ok := rs[0].Archive(mirrortest.Host); !ok || f.SHA256 != hexSHA(fixture.Archives[f.Filename]) {
		t.Fatalf("index.json entry %+v", f)
	}
}

// Many clients install at once from `mirror serve` on loopback.
func TestManyClientsFromMirrorServe(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	out := filepath.Join(t.TempDir(), "mirror")
	in := mustInstaller(t, testOptions(t, s))
	if _, err := in.SyncTree(context.Background(), TreeOptions{Out: out, Specs: []string{"1.22.3"}, Archives: true, Zips: true}); err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	var requests atomic.Int32
	h := offline.Handler(out)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(&mirrortest.CountingWriter{ResponseWriter: w, N: &served}, r)
	}))
	defer srv.Close()
	const clients = 24
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmp := t.TempDir()
			o := Options{Dir: filepath.Join(tmp, "go"), CacheDir: filepath.Join(tmp, "cache"),
				Official: []string{srv.URL + "/"}, Mirrors: []string{"off"}, GOPROXY: "off", GOSUMDB: fixture.VKey,
				Sources: []Kind{KindOfficial}}
			rep, err := install(t, mustInstaller(t, o), "latest")
			if err == nil && (rep.Version != "go1.22.3" || rep.Verified.Method != "sha256") {
				err = os.ErrInvalid
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	t.Logf("%d clients installed from mirror serve in %v: %d requests, %s served (%s archive each)",
		clients, took.Round(time.Millisecond), requests.Load(), download.Bytes(served.Load()),
		download.Bytes(int64(len(fixture.Archives[mirrortest.Host.ArchiveName("go1.22.3")]))))
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// otherPlatform is a platform other than this machine's, whose archives are zips where the
// host's are not, or the reverse.
func otherPlatform() mirror.Platform {
	if mirrortest.Host.OS == "windows" {
		return mirror.Platform{OS: "linux", Arch: "arm"}
	}
	return mirror.Platform{OS: "windows", Arch: "amd64"}
}
