package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
)

// Kind is the kind of source bytes came from.
type Kind string

const (
	FromOfficial Kind = "official"
	FromMirror   Kind = "mirror"
	FromProxy    Kind = "proxy"
	FromBundle   Kind = "bundle"
	FromCache    Kind = "cache"
)

// Format is what was fetched.
type Format int

const (
	// Archive is a release archive (go1.N.M.os-arch.tar.gz or .zip, files under go/).
	Archive Format = iota
	// ModuleZip is a golang.org/toolchain module zip.
	ModuleZip
)

// Release is the release asked for.
type Release struct {
	Version  string // go1.22.3
	Platform string // linux/amd64
	// Module is its golang.org/toolchain version (v0.0.1-go1.22.3.linux-amd64).
	Module string
}

// Evidence is what the sources gathered about one candidate: what it is, what claims to vouch
// for it, and, after the download, what arrived.
type Evidence struct {
	Kind   Kind
	Format Format
	Want   Release
	// File names the file in messages (go1.22.3.linux-amd64.tar.gz).
	File string

	Index    *IndexClaim
	SumDB    *SumDBClaim
	Manifest *ManifestClaim
	Cache    *CacheClaim
	Mirror   *MirrorClaim

	// Got is what the download and extraction produced; nil before the download.
	Got *Fetched
}

// IndexClaim is an official index's entry for the file.
type IndexClaim struct {
	SHA256 string
	Size   int64
	// Origin is the index's URL.
	Origin string
	// Root reports that the index is a trust root: an official site over verified TLS, or an
	// --official base the user configured. An index published beside a mirror's files is not.
	Root bool
}

// SumDBClaim is the checksum database's record for a toolchain module, or why there is none.
type SumDBClaim struct {
	Module string
	H1     string
	DB     string
	// Offline: proven from a bundle's tree head and tiles against the key this machine trusts.
	Offline bool
	// Err is the lookup's failure: the database unreachable, or a SecurityError.
	Err error
}

// ManifestClaim is a bundle manifest's entry: never a root, but it must agree.
type ManifestClaim struct {
	Bundle string // the bundle's path
	Module string
	SHA256 string
	Size   int64
}

// CacheClaim is the record an earlier verified download left in the cache.
type CacheClaim struct {
	Version, Platform string
	SHA256            string
	Size              int64
	// Verified is how the earlier run verified it; TrustedBy says so in words.
	Verified  Verified
	TrustedBy string
}

// MirrorClaim is a mirror's own checksum of its file, fetched only under
// --insecure-trust-mirror.
type MirrorClaim struct {
	SHA256 string
}

// Fetched is what a download and its extraction produced.
type Fetched struct {
	SHA256 string
	Size   int64
	// H1 is the extracted tree's h1 under the toolchain module Module's names (an archive's
	// files mapped with ToolchainName); empty when extraction failed.
	H1     string
	Module string
	// ModesByRule: file modes were set by the release rule, not taken from the archive.
	ModesByRule bool
	// Extract is the extraction's failure, if any.
	Extract error
}

// Verdict is Decide's answer.
type Verdict struct {
	Verified
	// NeedSumDB: the checksum database's answer is the only trust; wait for it.
	NeedSumDB bool
	// ModesByRule: set file modes by the release rule; nothing vouches for the archive's.
	ModesByRule bool
	// StripOmitted: remove the directories the module leaves out (OmittedDirs) after
	// extraction; nothing vouches for them.
	StripOmitted bool
	// Warning is for the user when a second root misbehaved but the first vouched.
	Warning string
}

// root is what vouches for a candidate.
type root int

const (
	noRoot root = iota
	indexRoot
	sumdbRoot
	cacheRoot
	mirrorRoot
)

// ErrMalformed marks an archive that cannot be read as what it claims to be (a bad gzip stream,
// a zip whose data does not match its directory): extraction errors of that kind wrap it.
var ErrMalformed = errors.New("malformed archive")

// Decide is the trust decision. Before the download (Got nil) it says whether anything can
// vouch for the candidate and how extraction must treat the bytes; after, whether these bytes
// may be installed and how they were verified. The rules, in order:
//
//  1. Every claim must be about the release asked for: a manifest, cache record or checksum-
//     database record for another module is refused (a SecurityError for a bundle).
//  2. One root vouches: the download cache's record for a cached file; else an official
//     index that is a trust root (archives from official sites and mirrors); else the checksum
//     database's record; else, for a mirror, its own checksum (the user passed
//     --insecure-trust-mirror). A manifest never vouches. With none, the bytes are untrusted.
//  3. A disk failure during extraction is the disk's, never the bytes'.
//  4. Sizes and digests must equal the root's, and the manifest's when there is one.
//  5. An unsafe archive is refused; a malformed one is refused as not matching the root
//     (a SecurityError when only the checksum database vouches).
//  6. When the checksum database answered, the tree's h1 must equal its record, whether it is
//     the root or a second proof; its failure is fatal only when it is the root.
//  7. When only the checksum database vouches for an archive, file modes follow the release
//     rule and the directories the module omits are removed: the h1 covers neither.
func Decide(e Evidence) (Verdict, error) {
	if err := checkIdentity(e); err != nil {
		return Verdict{}, err
	}
	v := Verdict{}
	r, err := chooseRoot(e, &v)
	if err != nil {
		return Verdict{}, err
	}
	// What the root leaves uncovered.
	switch {
	case e.Format == ModuleZip:
		v.ModesByRule = true // a zip carries no modes the release would have
	case r == sumdbRoot:
		v.ModesByRule, v.StripOmitted = true, true
	case r == cacheRoot && !strings.Contains(e.Cache.Verified.Method, MethodSHA256):
		v.ModesByRule, v.StripOmitted = true, true
	}
	if e.Got == nil {
		return v, nil
	}
	return v, checkFetched(e, r, &v)
}

// checkIdentity is rule 1.
func checkIdentity(e Evidence) error {
	if m := e.Manifest; m != nil && m.Module != e.Want.Module {
		return &SecurityError{Detail: fmt.Sprintf("bundle %s offers %s@%s for %s %s, which is %s@%s: "+
			"the manifest points at another release or platform", m.Bundle, ToolchainModule, m.Module,
			e.Want.Version, e.Want.Platform, ToolchainModule, e.Want.Module)}
	}
	if s := e.SumDB; s != nil && s.H1 != "" && s.Module != e.Want.Module {
		return &SecurityError{Detail: fmt.Sprintf("the checksum-database record offered for %s %s is for %s@%s, not %s@%s",
			e.Want.Version, e.Want.Platform, ToolchainModule, s.Module, ToolchainModule, e.Want.Module)}
	}
	if c := e.Cache; c != nil && (c.Version != e.Want.Version || c.Platform != e.Want.Platform) {
		return &MismatchError{Name: e.File, Expected: e.Want.Version + " " + e.Want.Platform,
			Actual: c.Version + " " + c.Platform, TrustedBy: "the download cache's record"}
	}
	if g := e.Got; g != nil && g.H1 != "" && g.Module != e.Want.Module {
		return &SecurityError{Detail: fmt.Sprintf("%s was hashed as %s@%s, not %s@%s", e.File, ToolchainModule, g.Module, ToolchainModule, e.Want.Module)}
	}
	return nil
}

// chooseRoot is rule 2: the root that vouches, with the verdict's method and trust named.
func chooseRoot(e Evidence, v *Verdict) (root, error) {
	sumdbAnswered := e.SumDB != nil && e.SumDB.H1 != ""
	var se *SecurityError
	sumdbSecurity := e.SumDB != nil && errors.As(e.SumDB.Err, &se)
	switch {
	case e.Kind == FromCache:
		if e.Cache == nil {
			return noRoot, &UntrustedError{File: e.File, Why: errors.New("the download cache holds no record of its verification")}
		}
		v.Method, v.TrustedBy = e.Cache.Verified.Method, e.Cache.TrustedBy
		return cacheRoot, nil
	case e.Index != nil && e.Index.Root && e.Format == Archive && (e.Kind == FromOfficial || e.Kind == FromMirror):
		v.Method, v.TrustedBy = MethodSHA256, "the index at "+failure.Redact(e.Index.Origin)
		if sumdbSecurity {
			v.Warning = fmt.Sprintf("the checksum database misbehaved; %s is verified by its official sha256 alone:\n%v", e.File, e.SumDB.Err)
		}
		return indexRoot, nil
	case sumdbAnswered:
		v.Method, v.TrustedBy, v.NeedSumDB = MethodSumDBTree, "the checksum database "+e.SumDB.DB, true
		if e.Format == ModuleZip {
			v.Method = MethodSumDB
		}
		if e.SumDB.Offline {
			v.Method, v.TrustedBy = MethodSumDBOffline, "the bundle's proof from the checksum database "+e.SumDB.DB+", checked offline"
		}
		return sumdbRoot, nil
	case sumdbSecurity:
		return noRoot, e.SumDB.Err
	case e.Kind == FromBundle:
		why := errors.New("it holds no checksum-database proof for this release")
		if e.SumDB != nil && e.SumDB.Err != nil {
			why = e.SumDB.Err
		}
		path := ""
		if e.Manifest != nil {
			path = e.Manifest.Bundle
		}
		return noRoot, &TamperedError{Path: path, Reason: fmt.Sprintf("%s cannot be verified: %v", e.File, why)}
	case e.Kind == FromProxy && e.SumDB != nil && e.SumDB.Err != nil:
		// The proxy path reaches the database too: the source cannot serve verifiable bytes,
		// and the failure is the network's (exit 3), not the bytes'.
		return noRoot, fmt.Errorf("the checksum database, which alone vouches for %s, could not be reached: %w", e.File, e.SumDB.Err)
	case e.Mirror != nil && e.Kind == FromMirror:
		v.Method, v.TrustedBy = MethodMirrorSelf, "the mirror itself (--insecure-trust-mirror)"
		return mirrorRoot, nil
	case e.SumDB == nil && e.Got == nil:
		// The lookup has not answered yet, and it alone can vouch.
		v.Method, v.TrustedBy, v.NeedSumDB = MethodSumDBTree, "the checksum database", true
		if e.Format == ModuleZip {
			v.Method = MethodSumDB
		}
		return sumdbRoot, nil
	}
	var why error
	if e.SumDB != nil {
		why = e.SumDB.Err
	}
	return noRoot, &UntrustedError{File: e.File, Why: why}
}

// checkFetched is rules 3 to 7, on what arrived.
func checkFetched(e Evidence, r root, v *Verdict) error {
	g := e.Got
	var disk *failure.DiskError
	if errors.As(g.Extract, &disk) {
		return g.Extract
	}
	// Sizes and digests.
	if m := e.Manifest; m != nil && (m.Size != g.Size || m.SHA256 != g.SHA256) {
		return &TamperedError{Path: m.Bundle, Reason: fmt.Sprintf("%s is %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s",
			e.File, g.Size, g.SHA256, m.Size, m.SHA256)}
	}
	var want, trustedBy string
	var wantSize int64
	switch r {
	case indexRoot:
		want, wantSize, trustedBy = e.Index.SHA256, e.Index.Size, v.TrustedBy
	case cacheRoot:
		want, wantSize, trustedBy = e.Cache.SHA256, e.Cache.Size, "the download cache's record"
	case mirrorRoot:
		want, trustedBy = e.Mirror.SHA256, v.TrustedBy
	}
	if wantSize > 0 && g.Size != wantSize {
		return &MismatchError{Name: e.File, Expected: fmt.Sprintf("%d bytes", wantSize), Actual: fmt.Sprintf("%d bytes", g.Size), TrustedBy: trustedBy}
	}
	if want != "" && !strings.EqualFold(want, g.SHA256) {
		return &MismatchError{Name: e.File, Expected: "sha256:" + want, Actual: "sha256:" + g.SHA256, TrustedBy: trustedBy}
	}
	if want != "" {
		v.SHA256, v.Digest = "sha256:"+g.SHA256, "sha256:"+g.SHA256
	}
	// The archive itself.
	if g.Extract != nil {
		if !errors.Is(g.Extract, ErrMalformed) || r != sumdbRoot {
			return g.Extract
		}
		return &SecurityError{Detail: fmt.Sprintf("verifying %s: the download cannot match the checksum database: %v", e.File, g.Extract)}
	}
	if r == cacheRoot {
		// The earlier verification's record stands, re-checked against these bytes above.
		rec := e.Cache.Verified
		rec.TrustedBy = v.TrustedBy
		if g.H1 != "" && rec.H1 != "" && g.H1 != rec.H1 {
			return &MismatchError{Name: e.File, Expected: rec.H1, Actual: g.H1, TrustedBy: trustedBy}
		}
		v.Verified = rec
		return checkModes(e, v)
	}
	// The checksum database: the root, or a second proof when it answered.
	if s := e.SumDB; s != nil && s.H1 != "" {
		if g.H1 == "" {
			return &UntrustedError{File: e.File, Why: errors.New("its tree hash was not computed")}
		}
		if g.H1 != s.H1 {
			return &SecurityError{Detail: mismatchDetail(e.Want.Module, g.H1, s.DB, s.H1)}
		}
		v.H1 = g.H1
		if v.Digest == "" {
			v.Digest = g.H1
		}
		if r != sumdbRoot {
			second := MethodSumDBTree
			if s.Offline {
				second = MethodSumDBOffline
			}
			v.Method += "+" + second
		}
	}
	return checkModes(e, v)
}

// checkModes refuses a tree whose modes came from an archive nothing vouches for the modes of.
func checkModes(e Evidence, v *Verdict) error {
	if v.ModesByRule && !e.Got.ModesByRule {
		return &UntrustedError{File: e.File, Why: errors.New("its file modes were taken from the archive, which nothing that vouched for it covers")}
	}
	return nil
}
