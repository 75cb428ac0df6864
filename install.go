package gostrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goversion "go/version"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
	"github.com/rogpeppe/go-internal/lockedfile"
)

// Install installs the release spec asks for and reports how.
func (in *Installer) Install(ctx context.Context, spec mirror.Spec) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{Attempts: []Attempt{}}
	defer func() {
		rep.DurationMS = time.Since(start).Milliseconds()
		if err != nil {
			rep.Error = download.Explain(err)
			err = &InstallError{Report: rep, Err: err}
		}
	}()

	// An exact version already installed needs no network at all.
	if spec.Kind == mirror.Exact {
		if m, ok := in.layout.intact(spec.Version); ok {
			return rep, in.already(rep, spec.Version, m)
		}
	}
	srcs, err := in.Sources(ctx)
	if err != nil {
		return rep, err
	}
	if len(srcs.Order) == 0 {
		return rep, &NoSourceError{What: spec.String() + " (every source kind is off or excluded by --sources)"}
	}
	r := newRun(ctx, in, rep, srcs)
	if !in.opts.NoProbe && !in.opts.Offline {
		r.probe(ctx)
	}
	v, err := r.resolve(ctx, spec)
	if err != nil {
		return rep, err
	}
	rep.Version = v

	unlock, err := in.layout.lockVersion(v)
	if err != nil {
		return rep, err
	}
	defer unlock()
	if m, ok := in.layout.intact(v); ok {
		return rep, in.already(rep, v, m)
	}

	for _, s := range srcs.Order {
		if r.dead[s] {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, in.opts.SourceTimeout)
		st, err := r.try(cctx, s, v)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return rep, context.Cause(ctx)
			}
			var se *verify.SecurityError
			if errors.As(err, &se) {
				// A possible attack: no other source is tried for these bytes.
				return rep, err
			}
			if download.Classify(err) == download.ClassDisk {
				// The disk, not the source, failed: another source would fail the same way.
				return rep, err
			}
			continue
		}
		return rep, r.finish(st, v)
	}
	// Nothing configured could serve: look for a bundle on mounted media, as a person would
	// reach for the USB stick.
	note := ""
	if slices.Contains(in.opts.Sources, KindBundle) && len(in.opts.Bundles) == 0 {
		found := offline.Locate(offline.MediaPatterns())
		for _, p := range found {
			s := &Source{Kind: KindBundle, URL: p}
			in.logf("trying the bundle found at %s", p)
			st, err := r.try(ctx, s, v)
			if err == nil {
				return rep, r.finish(st, v)
			}
			var se *verify.SecurityError
			if errors.As(err, &se) {
				return rep, err
			}
		}
		if len(found) == 0 {
			note = "no offline bundle found on mounted media (" + strings.Join(offline.MediaPatterns(), ", ") + ")"
		}
	}
	return rep, &NoSourceError{What: v + " for " + in.opts.Platform.String(), Attempts: rep.Attempts, Note: note}
}

func (in *Installer) already(rep *Report, v string, m *Meta) error {
	rep.Version = v
	rep.GOROOT = in.layout.GOROOT(v)
	rep.AlreadyInstalled = true
	rep.Source = &m.Source
	rep.Verified = &m.Verified
	if in.opts.Use {
		unlock, err := in.layout.lockDir()
		if err != nil {
			return err
		}
		defer unlock()
		return in.layout.setCurrent(v)
	}
	return nil
}

// run is the state of one install: which sources answered, which failed (they are not tried
// again), the indexes fetched and the checksum-database lookup shared by the candidates.
type run struct {
	// ctx is the whole install's: work shared between candidates (the checksum-database
	// lookup) outlives any one candidate's time budget.
	ctx  context.Context
	in   *Installer
	rep  *Report
	srcs *Sources
	dead map[*Source]bool

	indexes map[*Source][]mirror.Release
	trees   map[*Source]*offline.Tree

	h1Mu sync.Mutex
	h1   map[string]*h1Lookup
}

func newRun(ctx context.Context, in *Installer, rep *Report, srcs *Sources) *run {
	return &run{ctx: ctx, in: in, rep: rep, srcs: srcs, dead: map[*Source]bool{},
		indexes: map[*Source][]mirror.Release{}, trees: map[*Source]*offline.Tree{}, h1: map[string]*h1Lookup{}}
}

// fail records a failed attempt at s. Failures that mean the source cannot be reached mark it
// dead for the rest of the run.
func (r *run) fail(s *Source, url, stage string, start time.Time, err error) {
	p := download.Explain(err)
	r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: s.URL, Kind: string(s.Kind), URL: download.Redact(url),
		Stage: stage, Error: p, DurationMS: time.Since(start).Milliseconds()})
	if p.Class != download.ClassNotFound {
		r.dead[s] = true
	}
	r.in.logf("%s: %s failed: %s: %s", s, stage, p.Class, firstLine(p.Message))
}

func (r *run) succeed(s *Source, url string, start time.Time) {
	r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: s.URL, Kind: string(s.Kind), URL: download.Redact(url),
		Stage: "install", DurationMS: time.Since(start).Milliseconds()})
}

// officialIndex returns the releases an official source lists, fetching its index once.
func (r *run) officialIndex(ctx context.Context, s *Source) ([]mirror.Release, error) {
	if rs, ok := r.indexes[s]; ok {
		return rs, nil
	}
	if r.dead[s] {
		return nil, errDead
	}
	start := time.Now()
	o := mirror.Official{Base: s.URL}
	rs, err := o.FetchIndex(ctx, r.in.client, r.in.indexCache())
	if err != nil {
		r.fail(s, o.IndexURL(), "index", start, err)
		r.dead[s] = true
		return nil, err
	}
	r.indexes[s] = rs
	return rs, nil
}

var errDead = errors.New("source failed earlier in this run")

func (in *Installer) indexCache() mirror.IndexCache {
	return mirror.IndexCache{Dir: filepath.Join(in.opts.CacheDir, "index"), TTL: in.opts.IndexTTL}
}

// resolve turns spec into an exact release, asking the first index that answers.
func (r *run) resolve(ctx context.Context, spec mirror.Spec) (string, error) {
	if spec.Kind == mirror.Exact {
		return spec.Version, nil
	}
	for _, s := range r.srcs.indexOrder() {
		vs, ok := r.versions(ctx, s)
		if !ok {
			continue
		}
		v, err := mirror.Resolve(spec, vs)
		if err != nil {
			return "", err
		}
		if err := r.in.checkRollback(spec, v, s); err != nil {
			r.fail(s, s.URL, "index", time.Now(), err)
			continue
		}
		r.in.logf("%s is %s (from %s)", spec, v, s)
		return v, nil
	}
	return "", &NoSourceError{What: "the list of releases to resolve " + spec.String(), Attempts: r.rep.Attempts}
}

// RollbackError is an index whose answer is older than what this machine installed before.
type RollbackError struct {
	Source, Spec, Offered, Seen string
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("%s offers %s as %s, but this machine has installed %s before: a stale index or a held-back update",
		download.Redact(e.Source), e.Offered, e.Spec, e.Seen)
}
func (e *RollbackError) Class() download.Class { return download.ClassIndexRollback }

// seenFile records the newest stable release installed here (overall, and per line), which no
// index may then present as the newest.
func (in *Installer) seenFile() string { return filepath.Join(in.opts.CacheDir, "seen.json") }

type seen struct {
	Latest string            `json:"latest"`
	Lines  map[string]string `json:"lines"`
}

func (in *Installer) readSeen() seen {
	var sn seen
	if data, err := os.ReadFile(in.seenFile()); err == nil {
		json.Unmarshal(data, &sn)
	}
	if sn.Lines == nil {
		sn.Lines = map[string]string{}
	}
	return sn
}

// recordSeen raises the floor after a verified install of a stable release.
func (in *Installer) recordSeen(v string) {
	if !mirror.IsStable(v) {
		return
	}
	unlock, err := lockedfile.MutexAt(in.seenFile() + ".lock").Lock()
	if err != nil {
		return
	}
	defer unlock()
	sn := in.readSeen()
	if sn.Latest == "" || mirror.CompareVersions(v, sn.Latest) > 0 {
		sn.Latest = v
	}
	line := goversion.Lang(v)
	if cur := sn.Lines[line]; cur == "" || mirror.CompareVersions(v, cur) > 0 {
		sn.Lines[line] = v
	}
	data, _ := json.Marshal(sn)
	mirror.WriteFileAtomic(in.seenFile(), data, 0o644)
}

// checkRollback refuses an index's latest (or newest of a line) older than one installed here.
func (in *Installer) checkRollback(spec mirror.Spec, v string, s *Source) error {
	if in.opts.AllowDowngrade || spec.Kind == mirror.Exact {
		return nil
	}
	sn := in.readSeen()
	floor := sn.Latest
	if spec.Kind == mirror.Line {
		floor = sn.Lines[spec.Version]
	}
	if floor != "" && mirror.CompareVersions(v, floor) < 0 {
		return &RollbackError{Source: s.URL, Spec: spec.String(), Offered: v, Seen: floor}
	}
	return nil
}

// versions returns the releases s lists for the platform, reporting false when s has no index
// or it could not be read (the failure is recorded).
func (r *run) versions(ctx context.Context, s *Source) ([]mirror.Version, bool) {
	switch s.Kind {
	case KindOfficial:
		rs, err := r.officialIndex(ctx, s)
		if err != nil {
			return nil, false
		}
		return mirror.Versions(rs, r.in.opts.Platform), true
	case KindProxy:
		vs, err := r.proxyVersions(ctx, s)
		return vs, err == nil
	case KindCache:
		vs := r.in.cachedVersions()
		return vs, len(vs) > 0
	case KindBundle:
		t, err := r.openTree(s)
		if err != nil {
			return nil, false
		}
		var vs []mirror.Version
		for _, e := range t.Manifest.Entries {
			if e.Platform == r.in.opts.Platform.String() {
				vs = append(vs, mirror.Version{Version: e.Version, Stable: mirror.IsStable(e.Version)})
			}
		}
		return vs, len(vs) > 0
	}
	return nil, false
}

// openTree opens a bundle once per run; a bundle that cannot be opened is recorded and dead.
func (r *run) openTree(s *Source) (*offline.Tree, error) {
	if t, ok := r.trees[s]; ok {
		return t, nil
	}
	if r.dead[s] {
		return nil, errDead
	}
	start := time.Now()
	t, err := offline.Open(s.URL)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: "a bundle at " + s.URL}}
		}
		r.fail(s, s.URL, "index", start, err)
		r.dead[s] = true
		return nil, err
	}
	r.trees[s] = t
	return t, nil
}

// try installs v from s into a staging tree, or records why it could not.
func (r *run) try(ctx context.Context, s *Source, v string) (*staged, error) {
	start := time.Now()
	p := r.in.opts.Platform
	var c *candidate
	switch s.Kind {
	case KindOfficial:
		rs, err := r.officialIndex(ctx, s)
		if err != nil {
			return nil, err
		}
		o := mirror.Official{Base: s.URL}
		f, err := archiveOf(rs, v, p)
		if err != nil {
			r.fail(s, o.IndexURL(), "index", start, err)
			return nil, err
		}
		c = &candidate{src: s, url: o.FileURL(f.Filename), cacheName: f.Filename, format: formatOf(f.Filename),
			size: f.Size, sha256: f.SHA256, trustedBy: "the index at " + download.Redact(o.IndexURL())}
	case KindMirror:
		name := p.ArchiveName(v)
		c = &candidate{src: s, url: s.URL + name, cacheName: name, format: formatOf(name)}
		if err := r.trustMirror(ctx, c, v); err != nil {
			r.fail(s, c.url, "verify", start, err)
			return nil, err
		}
	case KindProxy:
		return r.tryProxy(ctx, s, v, start)
	case KindBundle:
		var err error
		if c, err = r.bundleCandidate(ctx, s, v); err != nil {
			r.fail(s, s.URL, stageOf(err), start, err)
			return nil, err
		}
	case KindCache:
		var err error
		if c, err = r.in.cachedCandidate(s, v); err != nil {
			r.fail(s, s.URL, "index", start, err)
			return nil, err
		}
	default:
		return nil, errDead
	}
	if c.size == 0 {
		c.max = maxDownload
	}
	if c.h1 == nil {
		c.h1 = r.lookupH1(ctx, v)
	}
	st, err := r.fetchArchive(ctx, c, v)
	if err != nil {
		r.fail(s, c.url, stageOf(err), start, err)
		return nil, err
	}
	r.succeed(s, c.url, start)
	return st, nil
}

// maxDownload caps an archive whose size no trusted index declares.
const maxDownload = 1 << 30

func formatOf(name string) string {
	if strings.HasSuffix(name, ".zip") {
		return "zip"
	}
	return "tar.gz"
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

// trustMirror decides what will vouch for a mirror's archive: the sha256 of the first official
// index that answers, else the checksum database's record for the toolchain module (checked
// against the extracted tree), else, only with --insecure-trust-mirror, the mirror's own
// .sha256 file.
func (r *run) trustMirror(ctx context.Context, c *candidate, v string) error {
	p := r.in.opts.Platform
	for _, s := range r.srcs.Official {
		rs, err := r.officialIndex(ctx, s)
		if err != nil {
			continue
		}
		if f, err := archiveOf(rs, v, p); err == nil && f.Filename == c.cacheName {
			c.sha256, c.size = f.SHA256, f.Size
			c.trustedBy = "the index at " + download.Redact(mirror.Official{Base: s.URL}.IndexURL())
			return nil
		}
	}
	h1, err := r.lookupH1(ctx, v).wait(ctx)
	if err == nil {
		c.treeOnly = true
		c.trustedBy = "the checksum database " + h1.db
		return nil
	}
	var se *verify.SecurityError
	if errors.As(err, &se) {
		return err
	}
	if r.in.opts.InsecureTrustMirror {
		sum, serr := r.in.client.Get(ctx, c.url+".sha256", 1024)
		if serr != nil {
			return fmt.Errorf("--insecure-trust-mirror: the mirror's own %s.sha256 is not available either: %w", c.cacheName, serr)
		}
		fields := strings.Fields(string(sum))
		if len(fields) == 0 || len(fields[0]) != 64 {
			return fmt.Errorf("--insecure-trust-mirror: %s.sha256 holds no sha256", c.cacheName)
		}
		c.sha256 = strings.ToLower(fields[0])
		c.selfTrusted = true
		c.trustedBy = "the mirror itself (--insecure-trust-mirror)"
		return nil
	}
	// Say the mirror cannot serve rather than that it is untrusted when it cannot: an outage
	// is not a verification failure.
	if _, herr := r.in.client.Head(ctx, c.url); herr != nil {
		return herr
	}
	return &UntrustedError{File: c.cacheName, Why: err}
}

// bundleCandidate reads v from a bundle: its checksum-database proof is checked offline first,
// then the module zip (or else the release archive) is opened in place, its size checked
// against the manifest.
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
	db, err := r.in.SumDB(ctx)
	if err != nil {
		return nil, err
	}
	h1, err := t.Prove(ctx, db.DB(), e)
	if err != nil {
		return nil, err
	}
	c := &candidate{src: s, modVersion: e.Module, offlineProof: true,
		h1:        doneLookup(h1, db.Name()),
		trustedBy: "the bundle's proof from the checksum database " + db.Name() + ", checked offline"}
	path := e.Zip
	if path != "" {
		c.format, c.cacheName = "modzip", "golang.org-toolchain@"+e.Module+".zip"
	} else if path = e.Archive; path != "" {
		c.format, c.cacheName, c.treeOnly = formatOf(path), path, true
	} else {
		return nil, &offline.TamperedError{Path: t.Path, Reason: "entry " + v + " " + p.String() + " holds no file"}
	}
	f, file, err := t.Check(path)
	if err != nil {
		return nil, err
	}
	c.local, c.size, c.manifestSHA256 = f, file.Size, file.SHA256
	c.url = s.URL + "/" + path
	return c, nil
}

// doneLookup is a checksum-database answer already in hand.
func doneLookup(h1, db string) *h1Lookup {
	l := &h1Lookup{done: make(chan struct{}), h1: h1, db: db}
	close(l.done)
	return l
}

// UntrustedError is a download that nothing trustworthy can vouch for.
type UntrustedError struct {
	File string
	Why  error
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("no trusted checksum for %s: no official index answered and the checksum database could not be reached (%v)",
		e.File, firstLine(e.Why.Error()))
}

func (e *UntrustedError) Class() download.Class { return download.ClassUntrusted }

func stageOf(err error) string {
	switch download.Classify(err) {
	case download.ClassChecksumMismatch, download.ClassSumDBSecurity, download.ClassUntrusted:
		return "verify"
	case download.ClassArchiveUnsafe:
		return "extract"
	case download.ClassDisk:
		return "install"
	}
	return "download"
}

// h1Lookup is a checksum-database lookup of the toolchain module for one version, started
// once and shared: it runs while the archive downloads.
type h1Lookup struct {
	done chan struct{}
	h1   string
	db   string
	err  error
}

type h1Result struct{ h1, db string }

func (l *h1Lookup) wait(ctx context.Context) (h1Result, error) {
	select {
	case <-l.done:
		return h1Result{l.h1, l.db}, l.err
	case <-ctx.Done():
		return h1Result{}, context.Cause(ctx)
	}
}

// lookupH1 starts (once per version) the checksum-database lookup for v's toolchain module. It
// runs in the install's context, not the candidate's that asked first.
func (r *run) lookupH1(_ context.Context, v string) *h1Lookup {
	ctx := r.ctx
	r.h1Mu.Lock()
	defer r.h1Mu.Unlock()
	if l, ok := r.h1[v]; ok {
		return l
	}
	l := &h1Lookup{done: make(chan struct{})}
	r.h1[v] = l
	go func() {
		defer close(l.done)
		db, err := r.in.SumDB(ctx)
		if err != nil {
			l.err = err
			return
		}
		l.db = db.Name()
		l.h1, l.err = db.Lookup(ctx, mirror.ToolchainModule, r.in.opts.Platform.ToolchainVersion(v))
	}()
	return l
}

// finish commits a verified staging tree and fills in the report.
func (r *run) finish(st *staged, v string) error {
	installed, err := r.in.layout.commit(st.dir, v, r.in.opts.Use)
	if err != nil {
		os.RemoveAll(st.dir)
		return err
	}
	if r.in.opts.Platform == mirror.Host() {
		r.in.recordSeen(v)
	}
	r.rep.GOROOT = r.in.layout.GOROOT(v)
	r.rep.Source = &st.meta.Source
	r.rep.Verified = &st.meta.Verified
	r.rep.Bytes = st.fetched
	if !installed {
		r.rep.AlreadyInstalled = true
		if m, ok := r.in.layout.intact(v); ok {
			r.rep.Source, r.rep.Verified = &m.Source, &m.Verified
		}
	}
	return nil
}
