package gostrap

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
)

// A bundle's manifest is unsigned: an entry for this platform that points at another
// platform's module, record or hash is refused as an attack, offline and when an online
// install falls back to the bundle on mounted media, and nothing is installed.
func TestBundleEntryOfAnotherPlatform(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	host, arm := mirrortest.Host, mirror.Platform{OS: "linux", Arch: "arm"}
	if host == arm {
		t.Skip("the host is linux/arm")
	}
	for _, tc := range []struct {
		name string
		edit func(host, arm *offline.Entry)
	}{
		{"module, zip, record and h1", func(h, a *offline.Entry) { h.Module, h.Zip, h.Record, h.H1 = a.Module, a.Zip, a.Record, a.H1 }},
		{"record and h1", func(h, a *offline.Entry) { h.Record, h.H1 = a.Record, a.H1 }},
		{"h1", func(h, a *offline.Entry) { h.H1 = a.H1 }},
	} {
		for _, online := range []bool{false, true} {
			name := tc.name + map[bool]string{false: ", offline", true: ", online from media"}[online]
			t.Run(name, func(t *testing.T) {
				media := t.TempDir()
				o := TreeOptions{Zips: true, Specs: []string{"1.22.3"}, Platforms: []mirror.Platform{host, arm},
					Out: filepath.Join(media, "bundle")}
				dir := editBundle(t, s, o, func(dir string, m *offline.Manifest) {
					var h, a *offline.Entry
					for i := range m.Entries {
						switch m.Entries[i].Platform {
						case host.String():
							h = &m.Entries[i]
						case arm.String():
							a = &m.Entries[i]
						}
					}
					tc.edit(h, a)
				})
				opts := offlineOptions(t, s, dir)
				if online {
					opts.Bundles = nil
					t.Setenv(offline.MediaEnv, media)
				} else {
					opts.Offline = true
				}
				rep, err := install(t, mustInstaller(t, opts), "1.22.3")
				if err == nil || rep.ExitCode() != ExitVerification || rep.Error.Class != failure.SumDBSecurity ||
					!strings.HasPrefix(rep.Error.Message, "SECURITY ERROR") {
					t.Fatalf("exit %d: %v", rep.ExitCode(), err)
				}
				if _, err := os.Stat(filepath.Join(opts.Dir, "go1.22.3")); !os.IsNotExist(err) {
					t.Fatal("installed")
				}
				t.Logf("%s", strings.Split(rep.Error.Message, "\n")[1])
			})
		}
	}
}

// An archive of another size than the official index declares is not the published file: a
// verification failure (exit 4, checksum-mismatch), whether the body runs past the size or
// ends short of it, on one connection or several.
func TestArchiveOfAnotherSize(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	name := mirrortest.Host.ArchiveName("go1.22.3")
	good, _ := fixture.Archive(name)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"longer", append(append([]byte{}, good...), make([]byte, 100_000)...)},
		{"shorter", good[:len(good)-100_000]},
	} {
		for _, segmented := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: ", one connection", true: ", segmented"}[segmented], func(t *testing.T) {
				official := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/dl/"+name {
						http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(tc.data))
						return
					}
					fixture.OfficialHandler().ServeHTTP(w, r)
				}))
				defer official.Close()
				o := testOptions(t, s)
				o.Official = []string{official.URL + "/dl/"}
				o.GOPROXY = "off"
				if segmented {
					o.Download.SegmentThreshold, o.Download.SegmentSize = 64<<10, 64<<10
				} else {
					o.Download.SegmentThreshold = -1
				}
				rep, err := install(t, mustInstaller(t, o), "1.22.3")
				if err == nil || rep.ExitCode() != ExitVerification || rep.Error.Class != failure.ChecksumMismatch {
					t.Fatalf("exit %d: %v", rep.ExitCode(), err)
				}
				if _, err := os.Stat(filepath.Join(o.Dir, "go1.22.3")); !os.IsNotExist(err) {
					t.Fatal("installed")
				}
				if _, err := os.Stat(filepath.Join(o.CacheDir, "dl", name+".partial")); !os.IsNotExist(err) {
					t.Fatal("the wrong bytes were kept to resume from")
				}
				t.Log(rep.Error.Message)
			})
		}
	}
}

// When only the checksum database vouches for a mirror's archive, file modes follow the
// release rule, not the archive's headers (which the h1 does not cover): the tree is the one a
// proxy install makes.
func TestMirrorArchiveModesFollowTheRule(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	p := mirrortest.Host
	tree := maps.Clone(fixture.Trees["go1.22.3 "+p.String()])
	gocmd := mirrortest.GoCmd(p)
	flip := map[string]fs.FileMode{gocmd: 0o644, "src/fmt/print.go": 0o755, "src/make.bash": 0o644, "LICENSE": 0o777}
	for n, m := range flip {
		f := tree[n]
		f.Mode = m
		tree[n] = f
	}
	odd, err := mirrortest.ReleaseArchive(p, tree)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, s)
	o.Official = []string{mirrortest.ClosedURL()}
	o.Mirrors = []string{mirrorOf(t, p.ArchiveName("go1.22.3"), odd)}
	o.Sources = []Kind{KindMirror}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil || rep.Verified.Method != "sumdb-tree" {
		t.Fatalf("%v %+v", err, rep.Verified)
	}
	for n, want := range map[string]fs.FileMode{gocmd: 0o755, "src/fmt/print.go": 0o644, "src/make.bash": 0o755, "LICENSE": 0o644} {
		st, err := os.Stat(filepath.Join(rep.GOROOT, n))
		if err != nil || st.Mode().Perm() != want && runtime.GOOS != "windows" { // no permission bits there
			t.Errorf("%s: %v %v, want %v", n, st.Mode(), err, want)
		}
	}
	// The same tree as from the proxy.
	po := proxyOnly(t, s, s.ProxyURL())
	prep, err := install(t, mustInstaller(t, po), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := treeDigest(t, rep.GOROOT), treeDigest(t, prep.GOROOT); a != b {
		skip := []string{layout.MetaFile}
		a, _ = mirrortest.TreeDigest(rep.GOROOT, skip...)
		b, _ = mirrortest.TreeDigest(prep.GOROOT, skip...)
		if a != b {
			t.Fatal("the mirror install differs from the proxy install")
		}
	}
}

// A corrupt rollback record is said and rebuilt from the installed toolchains' records; it
// never switches the protection off.
func TestCorruptRollbackRecord(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	if _, err := install(t, mustInstaller(t, o), "1.22.3"); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(o.CacheDir, "seen.json")
	if err := os.WriteFile(seen, []byte(`{"latest": "go1.22.3", "lines": {`), 0o644); err != nil {
		t.Fatal(err)
	}
	// An index that rolled back to go1.21.13 as the latest.
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("mode") == "json" {
			var keep []mirror.Release
			for _, rel := range fixture.Index {
				if mirror.CompareVersions(rel.Version, "go1.22.0") < 0 {
					keep = append(keep, rel)
				}
			}
			json.NewEncoder(w).Encode(keep)
			return
		}
		fixture.OfficialHandler().ServeHTTP(w, r)
	}))
	defer stale.Close()
	var log bytes.Buffer
	o.Official = []string{stale.URL + "/dl/"}
	o.GOPROXY = "off"
	o.Log = &log
	rep, err := install(t, mustInstaller(t, o), "latest")
	if err == nil || rep.ExitCode() != ExitVerification || rep.Attempts[len(rep.Attempts)-1].Error.Class != failure.IndexRollback {
		t.Fatalf("exit %d: %v", rep.ExitCode(), err)
	}
	if !strings.Contains(log.String(), "rollback record is corrupt") || !strings.Contains(log.String(), "rebuilding") {
		t.Fatalf("not said: %s", log.String())
	}
	data, _ := os.ReadFile(seen)
	if !strings.Contains(string(data), `"latest":"go1.22.3"`) {
		t.Fatalf("not rebuilt: %s", data)
	}
}

// mirrorOf serves one archive as a flat mirror and returns the mirror's base URL.
func mirrorOf(t *testing.T, name string, data []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/golang/"+name {
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/golang/"
}
