package gostrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// A candidate is one way to get the bytes of a release: where from, in what format, and the
// evidence verify.Decide will judge them by. Sources only gather evidence here; they decide
// nothing.
type candidate struct {
	src       *Source
	url       string
	cacheName string // file name in the download cache
	zip       bool   // the file is a zip: a Windows release archive or a module zip
	size      int64  // declared by a trusted index; 0 when unknown
	max       int64  // cap when size is unknown
	// local is a bundle's file, opened in place: nothing is copied to the cache.
	local fs.File
	// cached is the record of the download a cache candidate replays: kept as it is.
	cached *layout.Record
	ev     verify.Evidence
	// h1 is the checksum-database lookup for the release's toolchain module, running alongside.
	h1 *h1Lookup
}

// maxDownload caps an archive whose size no trusted index declares.
const maxDownload = 1 << 30

// newCandidate is the part every kind shares: the release asked for, and the checksum
// database's lookup as a second proof when the run may use the module proxies (it is reached
// through them).
func (r *run) newCandidate(s *Source, v string, format verify.Format, name string) *candidate {
	p := r.in.opts.Platform
	c := &candidate{src: s, cacheName: name, zip: strings.HasSuffix(name, ".zip"), max: maxDownload,
		ev: verify.Evidence{Kind: verify.Kind(s.Kind), Format: format, File: name,
			Want: verify.Release{Version: v, Platform: p.String(), Module: p.ToolchainVersion(v)}}}
	if s.Kind == KindProxy || (s.Kind == KindOfficial || s.Kind == KindMirror) && slices.Contains(r.in.opts.Sources, KindProxy) {
		c.h1 = r.lookupH1(v)
	}
	return c
}

// candidate gathers the evidence for v from s (every kind but the proxy, which tries its list
// of proxies in turn).
func (r *run) candidate(ctx context.Context, s *Source, v string) (*candidate, error) {
	switch s.Kind {
	case KindOfficial:
		return r.officialCandidate(ctx, s, v)
	case KindMirror:
		return r.mirrorCandidate(ctx, s, v)
	case KindBundle:
		return r.bundleCandidate(ctx, s, v)
	case KindCache:
		return r.cachedCandidate(s, v)
	}
	return nil, errDead
}

// officialCandidate: the archive an official site lists, vouched for by its own index.
func (r *run) officialCandidate(ctx context.Context, s *Source, v string) (*candidate, error) {
	rs, err := r.officialIndex(ctx, s)
	if err != nil {
		return nil, err
	}
	o := mirror.Official{Base: s.URL}
	f, err := archiveOf(rs, v, r.in.opts.Platform)
	if err != nil {
		return &candidate{url: o.IndexURL()}, err
	}
	c := r.newCandidate(s, v, verify.Archive, f.Filename)
	c.url, c.size = o.FileURL(f.Filename), f.Size
	c.ev.Index = &verify.IndexClaim{SHA256: f.SHA256, Size: f.Size, Origin: o.IndexURL(), Root: true}
	return c, nil
}

// mirrorCandidate: a flat mirror's archive. A mirror supplies bytes only: the claim is the
// first official index that lists the archive, else the checksum database's record (waited
// for: it is then the only trust), else, under --insecure-trust-mirror, the mirror's own
// .sha256.
func (r *run) mirrorCandidate(ctx context.Context, s *Source, v string) (*candidate, error) {
	name := r.in.opts.Platform.ArchiveName(v)
	c := r.newCandidate(s, v, verify.Archive, name)
	c.url = s.URL + name
	if claim := r.officialClaim(ctx, v, name, false); claim != nil {
		c.ev.Index, c.size = claim, claim.Size
		return c, nil
	}
	// Nothing else can vouch: the checksum database is asked, through the module proxies,
	// whatever --sources says.
	if !slices.Contains(r.in.opts.Sources, KindProxy) {
		r.in.logf("no official index lists %s: asking the checksum database, through GOPROXY, to vouch for the mirror's archive", name)
	}
	c.h1 = r.lookupH1(v)
	c.ev.SumDB = c.h1.claim(ctx, forever)
	var se *verify.SecurityError
	if c.ev.SumDB.Err == nil || errors.As(c.ev.SumDB.Err, &se) {
		return c, nil
	}
	// The checksum database could not vouch either: now an official index that was slow to
	// answer is worth waiting for.
	if claim := r.officialClaim(ctx, v, name, true); claim != nil {
		c.ev.Index, c.size = claim, claim.Size
		return c, nil
	}
	if !r.in.opts.InsecureTrustMirror {
		return c, nil
	}
	sum, err := r.in.client.Get(ctx, c.url+".sha256", 1024)
	if err != nil {
		return c, fmt.Errorf("--insecure-trust-mirror: the mirror's own %s.sha256 is not available either: %w", name, err)
	}
	fields := strings.Fields(string(sum))
	if len(fields) == 0 || len(fields[0]) != 64 {
		return c, fmt.Errorf("--insecure-trust-mirror: %s.sha256 holds no sha256", name)
	}
	c.ev.Mirror = &verify.MirrorClaim{SHA256: strings.ToLower(fields[0])}
	return c, nil
}

// officialClaim is the entry for the archive name in the first official index that answers:
// of those known to answer quickly, or with patient, of the slow ones too.
func (r *run) officialClaim(ctx context.Context, v, name string, patient bool) *verify.IndexClaim {
	for _, s := range r.srcs.Official {
		if r.quick(s) == patient {
			continue
		}
		rs, err := r.officialIndex(ctx, s)
		if err != nil {
			continue
		}
		if f, err := archiveOf(rs, v, r.in.opts.Platform); err == nil && f.Filename == name {
			return &verify.IndexClaim{SHA256: f.SHA256, Size: f.Size, Origin: mirror.Official{Base: s.URL}.IndexURL(), Root: true}
		}
	}
	return nil
}

// proxyCandidate: the golang.org/toolchain module zip, vouched for by the checksum database.
func (r *run) proxyCandidate(s *Source, v string) *candidate {
	module := r.in.opts.Platform.ToolchainVersion(v)
	c := r.newCandidate(s, v, verify.ModuleZip, "golang.org-toolchain@"+module+".zip")
	c.max = mirror.MaxZipFile
	return c
}

// bundleCandidate: a bundle's module zip (or else its release archive), opened in place, with
// the bundle's checksum-database proof checked offline against the key this machine trusts.
// The manifest only says where the files are; the decision checks it names this release.
func (r *run) bundleCandidate(ctx context.Context, s *Source, v string) (*candidate, error) {
	t, err := r.openTree(s)
	if err != nil {
		return nil, err
	}
	p := r.in.opts.Platform
	e, ok := t.Manifest.Entry(v, p.String())
	if !ok {
		return nil, &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: v + " for " + p.String() + " in the bundle"}}
	}
	if e.H1 == "" {
		return nil, &verify.UntrustedError{File: v + " " + p.String() + " in " + t.Path,
			Why: errors.New("the tree was made while the checksum database was unreachable, so it holds no proof to check offline; serve it and install with --official")}
	}
	db, err := r.in.SumDB(ctx)
	if err != nil {
		return nil, err
	}
	path, format, name := e.Zip, verify.ModuleZip, "golang.org-toolchain@"+e.Module+".zip"
	if path == "" {
		path, format, name = e.Archive, verify.Archive, e.Archive
	}
	if path == "" {
		return nil, &verify.TamperedError{Path: t.Path, Reason: "entry " + v + " " + p.String() + " holds no file"}
	}
	c := r.newCandidate(s, v, format, name)
	c.url = s.URL + string(filepath.Separator) + filepath.FromSlash(path) // one separator on Windows too
	claim := &verify.SumDBClaim{Module: e.Module, DB: db.Name(), Offline: true}
	if claim.H1, err = t.Prove(ctx, db.DB(), e); err != nil {
		return c, err
	}
	c.ev.SumDB = claim
	f, file, err := t.Check(path)
	if err != nil {
		return c, err
	}
	c.local, c.size = f, file.Size
	c.ev.Manifest = &verify.ManifestClaim{Bundle: t.Path, Module: e.Module, SHA256: file.SHA256, Size: file.Size}
	return c, nil
}

// cachedCandidate replays a verified download of v from the cache: its record vouches, after
// the bytes are checked against it again.
func (r *run) cachedCandidate(s *Source, v string) (*candidate, error) {
	p := r.in.opts.Platform
	module := p.ToolchainVersion(v)
	for _, name := range []string{p.ArchiveName(v), "golang.org-toolchain@" + module + ".zip"} {
		rec, ok := r.in.cache.ReadRecord(name)
		if !ok {
			continue
		}
		format := verify.Archive
		if strings.HasPrefix(name, "golang.org-toolchain@") {
			format = verify.ModuleZip
		}
		c := r.newCandidate(s, v, format, name)
		c.size, c.cached = rec.Size, rec
		c.url = layout.FileURL(r.in.cache.Download(name))
		// Records from before they carried the release are known by their file's name.
		version, platform := rec.Version, rec.Platform
		if version == "" {
			version, platform = v, p.String()
		}
		c.ev.Cache = &verify.CacheClaim{Version: version, Platform: platform, SHA256: rec.SHA256, Size: rec.Size,
			Verified: rec.Verified, TrustedBy: fmt.Sprintf("the local cache (verified by %s on %s, from %s)", rec.Verified.Method,
				rec.Time.Format("2006-01-02"), rec.Source.URL)}
		return c, nil
	}
	return nil, &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: v + " in the download cache"}}
}

// cachedVersions lists the releases whose verified downloads are in the cache.
func (in *Installer) cachedVersions() []mirror.Version {
	seen := map[string]bool{}
	var out []mirror.Version
	for _, name := range in.cache.Downloads() {
		if v, platform := releaseOf(name); platform == in.opts.Platform.String() && !seen[v] {
			seen[v] = true
			out = append(out, mirror.Version{Version: v, Stable: mirror.IsStable(v)})
		}
	}
	return out
}

// hasCached reports whether the download cache holds a verified download of v.
func (r *run) hasCached(v string) bool {
	return slices.ContainsFunc(r.in.cachedVersions(), func(c mirror.Version) bool { return c.Version == v })
}

// resolveFromCache resolves spec against the releases verified earlier and kept in the cache.
// The rollback floor does not apply: these are this machine's own verified downloads.
func (r *run) resolveFromCache(spec mirror.Spec) (string, bool) {
	v, err := mirror.Resolve(spec, r.in.cachedVersions())
	return v, err == nil
}

// archiveOf finds v's archive for p in an official index.
func archiveOf(rs []mirror.Release, v string, p mirror.Platform) (mirror.File, error) {
	rel, ok := mirror.Find(rs, v)
	if !ok {
		return mirror.File{}, &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: v}}
	}
	f, ok := rel.Archive(p)
	if !ok {
		return mirror.File{}, &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: v + " for " + p.String()}}
	}
	return f, nil
}

// h1Lookup is a checksum-database lookup of the toolchain module for one version, started
// once and shared: it runs while the archive downloads.
type h1Lookup struct {
	module string
	done   chan struct{}
	h1     string
	db     string
	err    error
}

// Waits for claim: forever (the answer is the only trust), briefly (a second proof, not worth
// holding an install up for), or not at all.
const (
	forever = time.Duration(-1)
	briefly = 2 * time.Second
	noWait  = time.Duration(0)
)

// claim is the lookup's answer as evidence, waiting at most wait for it; nil when it has not
// answered by then.
func (l *h1Lookup) claim(ctx context.Context, wait time.Duration) *verify.SumDBClaim {
	var timeout <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-l.done:
		return &verify.SumDBClaim{Module: l.module, H1: l.h1, DB: l.db, Err: l.err}
	case <-ctx.Done():
		return &verify.SumDBClaim{Module: l.module, Err: context.Cause(ctx)}
	case <-timeout:
		return nil
	}
}

// lookupH1 starts (once per version) the checksum-database lookup for v's toolchain module. It
// runs in the install's context, not the candidate's that asked first.
func (r *run) lookupH1(v string) *h1Lookup {
	ctx := r.ctx
	r.h1Mu.Lock()
	defer r.h1Mu.Unlock()
	if l, ok := r.h1[v]; ok {
		return l
	}
	l := &h1Lookup{module: r.in.opts.Platform.ToolchainVersion(v), done: make(chan struct{})}
	r.h1[v] = l
	go func() {
		defer close(l.done)
		db, err := r.in.SumDB(ctx)
		if err != nil {
			l.err = err
			return
		}
		l.db = db.Name()
		l.h1, l.err = db.Lookup(ctx, verify.ToolchainModule, l.module)
	}()
	return l
}
