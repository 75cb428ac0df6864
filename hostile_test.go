package gostrap

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"testing"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// An index that lists a darwin archive under linux (or another version's) is not believed.
func TestIndexListsWrongArchive(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	p := mirrortest.Host
	darwin := mirror.Platform{OS: "darwin", Arch: "arm64"}
	data := fixture.Archives[p.ArchiveName("go1.22.3")]
	sum := sha256.Sum256(data)
	f := &mirrortest.Fixture{Archives: map[string][]byte{darwin.ArchiveName("go1.22.3"): data, p.ArchiveName("go1.21.13"): data}}
	f.Index = []mirror.Release{{Version: "go1.22.3", Stable: true, Files: []mirror.File{
		{Filename: darwin.ArchiveName("go1.22.3"), OS: p.OS, Arch: p.OfficialArch(), Version: "go1.22.3", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Kind: "archive"},
		{Filename: p.ArchiveName("go1.21.13"), OS: p.OS, Arch: p.OfficialArch(), Version: "go1.22.3", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Kind: "archive"},
	}}}
	srv := httptest.NewServer(f.OfficialHandler())
	defer srv.Close()
	o := testOptions(t, s)
	o.Official = []string{srv.URL + "/dl/"}
	o.Sources = []Kind{KindOfficial}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err == nil || rep.Error.Class != failure.NotFound {
		t.Fatalf("err = %v", err)
	}
}

// An index whose latest is older than a release installed here before is refused (a stale
// mirror, or a freeze attack), falling back to the next index; explicit versions and
// --allow-downgrade still work.
func TestIndexRollback(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	if _, err := install(t, mustInstaller(t, o), "latest"); err != nil { // go1.22.3
		t.Fatal(err)
	}
	stale := &mirrortest.Fixture{Archives: fixture.Archives}
	for _, r := range fixture.Index {
		if mirror.CompareVersions(r.Version, "go1.22.0") < 0 {
			stale.Index = append(stale.Index, r)
		}
	}
	srv := httptest.NewServer(stale.OfficialHandler())
	defer srv.Close()
	o.Official = []string{srv.URL + "/dl/"}
	o.GOPROXY = "off"
	o.Sources = []Kind{KindOfficial}
	rep, err := install(t, mustInstaller(t, o), "latest")
	if err == nil || rep.ExitCode() != ExitVerification || rep.Attempts[0].Error.Class != failure.IndexRollback {
		t.Fatalf("exit %d: %v", rep.ExitCode(), err)
	}
	// The next index answers correctly: it is used.
	o.Official = []string{srv.URL + "/dl/", s.OfficialURL()}
	if rep, err := install(t, mustInstaller(t, o), "latest"); err != nil || rep.Version != "go1.22.3" {
		t.Fatalf("fallback: %v", err)
	}
	o.Official = []string{srv.URL + "/dl/"}
	if rep, err := install(t, mustInstaller(t, o), "1.21.13"); err != nil || rep.Version != "go1.21.13" {
		t.Fatalf("explicit: %v", err)
	}
	o.AllowDowngrade = true
	if rep, err := install(t, mustInstaller(t, o), "latest"); err != nil || rep.Version != "go1.21.13" {
		t.Fatalf("--allow-downgrade: %v", err)
	}
}
