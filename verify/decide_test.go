package verify_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/archive"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/verify"
)

// The trust table of docs/design.md, row by row: every kind of source, every kind of evidence,
// and what becomes of the bytes. Each rule of Decide has rows that fail when it is removed
// (docs/design.md says how that was checked).
func TestDecide(t *testing.T) {
	const (
		sha     = "8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"
		otherSH = "1111111111111111111111111111111111111111111111111111111111111111"
		h1      = "h1:Vv6r4Y0U1Ys6Ekq3Gx1QmYBXfKEgGP1W6KnnQbVt2ks="
		otherH1 = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		armMod  = "v0.0.1-go1.22.3.linux-arm"
	)
	want := verify.Release{Version: "go1.22.3", Platform: "linux/amd64", Module: "v0.0.1-go1.22.3.linux-amd64"}
	index := func() *verify.IndexClaim {
		return &verify.IndexClaim{SHA256: sha, Size: 100, Origin: "https://go.dev/dl/?mode=json&include=all", Root: true}
	}
	mirrorIndex := func() *verify.IndexClaim { // an index.json published beside a mirror's files
		c := index()
		c.Origin, c.Root = "https://mirror.example/golang/index.json", false
		return c
	}
	logged := func() *verify.SumDBClaim {
		return &verify.SumDBClaim{Module: want.Module, H1: h1, DB: "sum.golang.org"}
	}
	proven := func() *verify.SumDBClaim {
		c := logged()
		c.Offline = true
		return c
	}
	unreachable := func() *verify.SumDBClaim {
		return &verify.SumDBClaim{Module: want.Module, Err: &net.DNSError{Err: "no such host", Name: "sum.golang.org", IsNotFound: true}}
	}
	forkedLog := func() *verify.SumDBClaim {
		return &verify.SumDBClaim{Module: want.Module, Err: &verify.SecurityError{Detail: "checksum database misbehavior"}}
	}
	manifest := func() *verify.ManifestClaim {
		return &verify.ManifestClaim{Bundle: "/media/usb/go", Module: want.Module, SHA256: sha, Size: 100}
	}
	record := func(method string) *verify.CacheClaim {
		return &verify.CacheClaim{Version: want.Version, Platform: want.Platform, SHA256: sha, Size: 100,
			Verified: verify.Verified{Method: method, Digest: "sha256:" + sha, SHA256: "sha256:" + sha}, TrustedBy: "the local cache"}
	}
	got := func() *verify.Fetched {
		return &verify.Fetched{SHA256: sha, Size: 100, H1: h1, Module: want.Module}
	}
	byRule := func() *verify.Fetched {
		g := got()
		g.ModesByRule = true
		return g
	}
	with := func(g *verify.Fetched, f func(*verify.Fetched)) *verify.Fetched { f(g); return g }
	diskFull := &failure.DiskError{Op: "write", Path: "/go/bin/go", Err: errors.New("no space left on device")}
	unsafe := &archive.UnsafeError{Entry: "go/../x", Reason: "path is not local"}
	malformed := &archive.MalformedError{Err: errors.New("gzip: invalid header")}

	type outcome struct {
		class   failure.Class // "" for an install
		method  string
		modes   bool // the verdict asks for modes by the release rule
		strip   bool
		needDB  bool
		warning bool
		detail  string // in the error
	}
	for _, tc := range []struct {
		name string
		ev   verify.Evidence
		want outcome
	}{
		// Official sites: their index is the root; the checksum database is a second proof.
		{"official: index matches", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: got()},
			outcome{method: "sha256"}},
		{"official: index and log match", verify.Evidence{Kind: verify.FromOfficial, Index: index(), SumDB: logged(), Got: got()},
			outcome{method: "sha256+sumdb-tree"}},
		{"official: other bytes", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: with(got(), func(g *verify.Fetched) { g.SHA256 = otherSH })},
			outcome{class: failure.ChecksumMismatch, detail: "expected sha256:" + sha}},
		{"official: other size", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: with(got(), func(g *verify.Fetched) { g.Size = 99 })},
			outcome{class: failure.ChecksumMismatch, detail: "expected 100 bytes"}},
		{"official: index matches, log disagrees", verify.Evidence{Kind: verify.FromOfficial, Index: index(), SumDB: logged(), Got: with(got(), func(g *verify.Fetched) { g.H1 = otherH1 })},
			outcome{class: failure.SumDBSecurity, detail: "does NOT match"}},
		{"official: index matches, log misbehaves", verify.Evidence{Kind: verify.FromOfficial, Index: index(), SumDB: forkedLog(), Got: got()},
			outcome{method: "sha256", warning: true}},
		{"official: index matches, log unreachable", verify.Evidence{Kind: verify.FromOfficial, Index: index(), SumDB: unreachable(), Got: got()},
			outcome{method: "sha256"}},
		{"official: index not a root", verify.Evidence{Kind: verify.FromOfficial, Index: mirrorIndex(), SumDB: unreachable(), Got: got()},
			outcome{class: failure.Untrusted}},
		{"official: unsafe archive", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: with(got(), func(g *verify.Fetched) { g.Extract = unsafe })},
			outcome{class: failure.ArchiveUnsafe, detail: "not local"}},
		{"official: malformed archive", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: with(got(), func(g *verify.Fetched) { g.Extract = malformed })},
			outcome{class: failure.ArchiveUnsafe, detail: "malformed"}},
		{"official: disk full, bytes unchecked", verify.Evidence{Kind: verify.FromOfficial, Index: index(), Got: with(got(), func(g *verify.Fetched) { g.Extract = diskFull; g.SHA256 = otherSH })},
			outcome{class: failure.Disk}},
		{"official: a mirror's checksum is no root", verify.Evidence{Kind: verify.FromOfficial, Index: mirrorIndex(), SumDB: unreachable(), Mirror: &verify.MirrorClaim{SHA256: sha}, Got: got()},
			outcome{class: failure.Untrusted}},
		{"official: before the download", verify.Evidence{Kind: verify.FromOfficial, Index: index()},
			outcome{method: "sha256"}},

		// Mirrors supply bytes only.
		{"mirror: an official index matches", verify.Evidence{Kind: verify.FromMirror, Index: index(), Got: got()},
			outcome{method: "sha256"}},
		{"mirror: the log alone, modes by rule", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: byRule()},
			outcome{method: "sumdb-tree", modes: true, strip: true, needDB: true}},
		{"mirror: the log alone, modes from the archive", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: got()},
			outcome{class: failure.Untrusted, detail: "file modes"}},
		{"mirror: the log disagrees", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.H1 = otherH1 })},
			outcome{class: failure.SumDBSecurity, detail: "does NOT match"}},
		{"mirror: nothing reachable vouches", verify.Evidence{Kind: verify.FromMirror, SumDB: unreachable(), Got: got()},
			outcome{class: failure.Untrusted, detail: "no such host"}},
		{"mirror: the log misbehaves", verify.Evidence{Kind: verify.FromMirror, SumDB: forkedLog(), Got: got()},
			outcome{class: failure.SumDBSecurity, detail: "misbehavior"}},
		{"mirror: its own checksum, by request", verify.Evidence{Kind: verify.FromMirror, SumDB: unreachable(), Mirror: &verify.MirrorClaim{SHA256: sha}, Got: got()},
			outcome{method: "mirror-self"}},
		{"mirror: its own checksum disagrees", verify.Evidence{Kind: verify.FromMirror, SumDB: unreachable(), Mirror: &verify.MirrorClaim{SHA256: otherSH}, Got: got()},
			outcome{class: failure.ChecksumMismatch}},
		{"mirror: its own index is no root", verify.Evidence{Kind: verify.FromMirror, Index: mirrorIndex(), SumDB: unreachable(), Got: got()},
			outcome{class: failure.Untrusted}},
		{"mirror: the log alone, malformed archive", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Extract = malformed })},
			outcome{class: failure.SumDBSecurity, detail: "cannot match the checksum database"}},
		{"mirror: the log alone, disk full", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Extract = diskFull })},
			outcome{class: failure.Disk}},
		{"mirror: the log never answered", verify.Evidence{Kind: verify.FromMirror, Got: byRule()},
			outcome{class: failure.Untrusted}},
		{"mirror: the log answered, no tree hash", verify.Evidence{Kind: verify.FromMirror, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.H1 = "" })},
			outcome{class: failure.Untrusted, detail: "tree hash was not computed"}},
		{"mirror: before the download, the log pending", verify.Evidence{Kind: verify.FromMirror},
			outcome{method: "sumdb-tree", modes: true, strip: true, needDB: true}},
		{"mirror: before the download, nothing vouches", verify.Evidence{Kind: verify.FromMirror, SumDB: unreachable()},
			outcome{class: failure.Untrusted}},

		// Module proxies: the checksum database is the only root.
		{"proxy: the log matches", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: byRule()},
			outcome{method: "sumdb", modes: true, needDB: true}},
		{"proxy: the log disagrees", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.H1 = otherH1 })},
			outcome{class: failure.SumDBSecurity, detail: "does NOT match"}},
		{"proxy: the log unreachable", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: unreachable(), Got: byRule()},
			outcome{class: failure.DNS, detail: "could not be reached"}},
		{"proxy: malformed zip", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Extract = malformed })},
			outcome{class: failure.SumDBSecurity}},
		{"proxy: unsafe zip", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Extract = unsafe })},
			outcome{class: failure.ArchiveUnsafe}},
		{"proxy: disk full", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Extract = diskFull })},
			outcome{class: failure.Disk}},
		{"proxy: the record of another platform", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: with2(logged(), func(c *verify.SumDBClaim) { c.Module = armMod }), Got: byRule()},
			outcome{class: failure.SumDBSecurity, detail: armMod}},
		{"proxy: zip hashed as another module", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, SumDB: logged(), Got: with(byRule(), func(g *verify.Fetched) { g.Module = armMod })},
			outcome{class: failure.SumDBSecurity, detail: armMod}},
		{"proxy: an index cannot vouch for a zip", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, Index: index(), SumDB: unreachable(), Got: byRule()},
			outcome{class: failure.DNS}},
		{"mirror: an index cannot vouch for a module zip", verify.Evidence{Kind: verify.FromMirror, Format: verify.ModuleZip, Index: index(), SumDB: unreachable(), Got: byRule()},
			outcome{class: failure.Untrusted}},
		{"proxy: before the download, the log pending", verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip},
			outcome{method: "sumdb", modes: true, needDB: true}},

		// Bundles: the proof, checked offline, is the root; the manifest must agree.
		{"bundle: proof and manifest agree", verify.Evidence{Kind: verify.FromBundle, Format: verify.ModuleZip, SumDB: proven(), Manifest: manifest(), Got: byRule()},
			outcome{method: "sumdb-offline", modes: true, needDB: true}},
		{"bundle: manifest offers another platform's module", verify.Evidence{Kind: verify.FromBundle, Format: verify.ModuleZip, SumDB: with2(proven(), func(c *verify.SumDBClaim) { c.Module = armMod }),
			Manifest: with3(manifest(), func(m *verify.ManifestClaim) { m.Module = armMod }), Got: with(byRule(), func(g *verify.Fetched) { g.Module = armMod })},
			outcome{class: failure.SumDBSecurity, detail: "another release or platform"}},
		{"bundle: file changed after the manifest", verify.Evidence{Kind: verify.FromBundle, Format: verify.ModuleZip, SumDB: proven(), Manifest: manifest(), Got: with(byRule(), func(g *verify.Fetched) { g.SHA256 = otherSH })},
			outcome{class: failure.ChecksumMismatch, detail: "the manifest says"}},
		{"bundle: bytes differ from the proof", verify.Evidence{Kind: verify.FromBundle, Format: verify.ModuleZip, SumDB: proven(), Manifest: manifest(), Got: with(byRule(), func(g *verify.Fetched) { g.H1 = otherH1 })},
			outcome{class: failure.SumDBSecurity}},
		{"bundle: release archive, proof agrees", verify.Evidence{Kind: verify.FromBundle, SumDB: proven(), Manifest: manifest(), Got: byRule()},
			outcome{method: "sumdb-offline", modes: true, strip: true, needDB: true}},
		{"bundle: no proof", verify.Evidence{Kind: verify.FromBundle, Manifest: manifest(), Got: byRule()},
			outcome{class: failure.ChecksumMismatch, detail: "no checksum-database proof"}},
		{"bundle: an official sha256 it carries is no root", verify.Evidence{Kind: verify.FromBundle, Index: index(), Manifest: manifest(), Got: got()},
			outcome{class: failure.ChecksumMismatch, detail: "cannot be verified"}},

		// The download cache: the record of an earlier verification, checked again.
		{"cache: record matches", verify.Evidence{Kind: verify.FromCache, Cache: record("sha256+sumdb-tree"), Got: got()},
			outcome{method: "sha256+sumdb-tree"}},
		{"cache: bytes changed since", verify.Evidence{Kind: verify.FromCache, Cache: record("sha256"), Got: with(got(), func(g *verify.Fetched) { g.SHA256 = otherSH })},
			outcome{class: failure.ChecksumMismatch, detail: "download cache"}},
		{"cache: record of another release", verify.Evidence{Kind: verify.FromCache, Cache: with4(record("sha256"), func(c *verify.CacheClaim) { c.Version = "go1.21.0" }), Got: got()},
			outcome{class: failure.ChecksumMismatch, detail: "go1.21.0"}},
		{"cache: tree differs from the recorded h1", verify.Evidence{Kind: verify.FromCache,
			Cache: with4(record("sha256+sumdb-tree"), func(c *verify.CacheClaim) { c.Verified.H1 = h1 }), Got: with(got(), func(g *verify.Fetched) { g.H1 = otherH1 })},
			outcome{class: failure.ChecksumMismatch, detail: otherH1}},
		{"cache: only the log vouched, modes by rule", verify.Evidence{Kind: verify.FromCache, Cache: record("sumdb-tree"), Got: byRule()},
			outcome{method: "sumdb-tree", modes: true, strip: true}},
		{"cache: only the log vouched, modes from the archive", verify.Evidence{Kind: verify.FromCache, Cache: record("sumdb-tree"), Got: got()},
			outcome{class: failure.Untrusted, detail: "file modes"}},
		{"cache: no record", verify.Evidence{Kind: verify.FromCache, Got: got()},
			outcome{class: failure.Untrusted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Want, ev.File = want, "go1.22.3.linux-amd64.tar.gz"
			v, err := verify.Decide(ev)
			if tc.want.class != "" {
				if err == nil {
					t.Fatalf("installed (%+v), want %s", v, tc.want.class)
				}
				if c := failure.Classify(err); c != tc.want.class || !strings.Contains(err.Error(), tc.want.detail) {
					t.Fatalf("%s: %v\nwant %s with %q", c, err, tc.want.class, tc.want.detail)
				}
				if tc.want.class == failure.SumDBSecurity && !strings.HasPrefix(err.Error(), "SECURITY ERROR") {
					t.Fatalf("not a SECURITY ERROR: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if v.Method != tc.want.method || v.ModesByRule != tc.want.modes || v.StripOmitted != tc.want.strip ||
				v.NeedSumDB != tc.want.needDB || (v.Warning != "") != tc.want.warning {
				t.Fatalf("verdict %+v, want %+v", v, tc.want)
			}
			if ev.Got != nil && v.Digest == "" {
				t.Fatalf("no digest recorded: %+v", v)
			}
			if ev.Got != nil && strings.Contains(v.Method, "sumdb") && v.H1 != h1 && ev.Kind != verify.FromCache {
				t.Fatalf("h1 %q not recorded", v.H1)
			}
		})
	}
}

func with2(c *verify.SumDBClaim, f func(*verify.SumDBClaim)) *verify.SumDBClaim { f(c); return c }
func with3(c *verify.ManifestClaim, f func(*verify.ManifestClaim)) *verify.ManifestClaim {
	f(c)
	return c
}
func with4(c *verify.CacheClaim, f func(*verify.CacheClaim)) *verify.CacheClaim { f(c); return c }
