package gostrap

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// Install installs the release spec asks for and reports how.
func (in *Installer) Install(ctx context.Context, spec mirror.Spec) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{Attempts: []Attempt{}}
	defer func() {
		rep.DurationMS = time.Since(start).Milliseconds()
		if err != nil {
			rep.Error = failure.Explain(err)
			err = &InstallError{Report: rep, Err: err}
		}
		in.describe(rep)
	}()

	// An exact version already installed needs no network at all.
	if spec.Kind == mirror.Exact {
		if m, ok := in.layout.Intact(spec.Version); ok {
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
	defer r.close()
	if !in.opts.NoProbe && !in.opts.Offline {
		r.probe(ctx)
	}
	v, err := r.resolve(ctx, spec)
	if err != nil && !in.opts.Offline && ctx.Err() == nil && !final(err) && !rep.suspect() {
		// No index answered: the offline branch resolves from what this machine verified before.
		if cv, ok := r.resolveFromCache(spec); ok {
			rep.offline("no index answered, so " + spec.String() + " was resolved from the releases verified earlier and kept in the download cache")
			in.logf("%s; it is %s", rep.Offline, cv)
			v, err = cv, nil
		}
	}
	if err != nil {
		return rep, err
	}
	rep.Version = v

	unlock, err := in.layout.LockVersionContext(ctx, v)
	if err != nil {
		return rep, err
	}
	defer unlock()
	if m, ok := in.layout.Intact(v); ok {
		return rep, in.already(rep, v, m)
	}

	for _, s := range srcs.Order {
		if r.isDead(s) {
			continue
		}
		st, err := r.tryWithin(ctx, s, v)
		if ctx.Err() != nil {
			// Interrupted: nothing is installed, whatever this candidate got to.
			if st != nil {
				layout.RemoveAll(st.dir)
			}
			return rep, context.Cause(ctx)
		}
		if err != nil {
			if final(err) {
				return rep, err
			}
			continue
		}
		return rep, r.finish(st, v)
	}
	// Every online source failed: the offline branch, without a flag. First a release verified
	// earlier and kept in the cache (trusted only through the record of that verification,
	// checked again against the bytes), then a bundle on mounted media, as a person would reach
	// for the USB stick.
	if !in.opts.Offline && !rep.suspect() {
		cache := &Source{Kind: KindCache, URL: in.cache.Download("")}
		if r.hasCached(v) {
			st, err := r.tryWithin(ctx, cache, v)
			if err == nil {
				rep.offline("every online source failed, so the release verified earlier and kept in the download cache was used")
				in.logf("%s", rep.Offline)
				return rep, r.finish(st, v)
			}
			if ctx.Err() != nil {
				return rep, context.Cause(ctx)
			}
			if final(err) {
				return rep, err
			}
		}
	}
	note := ""
	if slices.Contains(in.opts.Sources, KindBundle) && len(in.opts.Bundles) == 0 {
		found := offline.Locate(offline.MediaPatterns())
		for _, p := range found {
			s := &Source{Kind: KindBundle, URL: p}
			in.logf("trying the bundle found at %s", p)
			st, err := r.tryWithin(ctx, s, v)
			if err == nil {
				if !in.opts.Offline {
					rep.offline("every online source failed, so the bundle found at " + p + " was used")
				}
				return rep, r.finish(st, v)
			}
			if final(err) {
				return rep, err
			}
		}
		if len(found) == 0 {
			note = "no offline bundle found on mounted media (" + strings.Join(offline.MediaPatterns(), ", ") + ")"
		}
	}
	return rep, &NoSourceError{What: v + " for " + in.opts.Platform.String(), Attempts: rep.Attempts, Note: note}
}

// final reports whether a failed candidate ends the install: a possible attack (no other
// source is tried for the same bytes), or the local disk (another source would fail the same
// way).
func final(err error) bool {
	var se *verify.SecurityError
	return errors.As(err, &se) || failure.Classify(err) == failure.Disk
}

func (in *Installer) already(rep *Report, v string, m *layout.Meta) error {
	rep.Version = v
	rep.GOROOT = in.layout.GOROOT(v)
	rep.AlreadyInstalled = true
	rep.Source = &m.Source
	rep.Verified = &m.Verified
	// Made current when asked to or when nothing is; a missing <dir>/current is repaired.
	return in.layout.EnsureCurrent(v, in.opts.Use)
}

// run is the state of one install: which sources answered, which failed (they are not tried
// again), the indexes fetched and the checksum-database lookups shared by the candidates.
type run struct {
	// ctx is the whole install's: work shared between candidates (the checksum-database
	// lookup) outlives any one candidate's time budget.
	ctx  context.Context
	in   *Installer
	rep  *Report
	srcs *Sources
	dead map[*Source]bool

	indexes map[*Source][]mirror.Release
	lists   map[*Source][]mirror.Version // a proxy's list, fetched once
	trees   map[*Source]*offline.Tree

	// The probes still running when the race was decided, and their channel.
	late       <-chan *sourceProbe
	pending    int
	probeStart time.Time
	answered   map[*Source]bool // nil when nothing was probed

	h1Mu sync.Mutex
	h1   map[string]*h1Lookup
}

func newRun(ctx context.Context, in *Installer, rep *Report, srcs *Sources) *run {
	return &run{ctx: ctx, in: in, rep: rep, srcs: srcs, dead: map[*Source]bool{},
		indexes: map[*Source][]mirror.Release{}, lists: map[*Source][]mirror.Version{}, trees: map[*Source]*offline.Tree{}, h1: map[string]*h1Lookup{}}
}

// close closes the bundles the run opened: Windows keeps an open file from being removed.
func (r *run) close() {
	for _, t := range r.trees {
		t.Close()
	}
}

// fail records a failed attempt at s. Failures that mean the source cannot be reached mark it
// dead for the rest of the run.
func (r *run) fail(s *Source, url, stage string, start time.Time, err error) {
	if r.failed(s.Kind, s.URL, url, stage, start, err).Class != failure.NotFound {
		r.dead[s] = true
	}
}

// failed adds a failed attempt at src, a source of kind k (or one proxy of a list), to the
// report and the log.
func (r *run) failed(k Kind, src, url, stage string, start time.Time, err error) *failure.Problem {
	p := failure.Explain(err)
	r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: failure.Redact(src), Kind: string(k), URL: failure.Redact(url),
		Stage: stage, Error: p, DurationMS: time.Since(start).Milliseconds()})
	r.in.logf("%s %s: %s failed: %s: %s", k, failure.Redact(src), stage, p.Class, firstLine(p.Message))
	return p
}

// succeed adds the attempt at src, a source of kind k (or the proxy of a list that served),
// that installed.
func (r *run) succeed(k Kind, src, url string, start time.Time, resumes int) {
	r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: failure.Redact(src), Kind: string(k), URL: failure.Redact(url),
		Stage: "install", DurationMS: time.Since(start).Milliseconds(), Resumes: resumes})
}

// officialIndex returns the releases an official source lists, fetching its index once.
func (r *run) officialIndex(ctx context.Context, s *Source) ([]mirror.Release, error) {
	if rs, ok := r.indexes[s]; ok {
		return rs, nil
	}
	if r.isDead(s) {
		return nil, errDead
	}
	start := time.Now()
	o := mirror.Official{Base: s.URL}
	rs, err := o.FetchIndex(ctx, r.in.client, r.in.cache.Index(r.in.opts.IndexTTL))
	if err != nil {
		r.fail(s, o.IndexURL(), "index", start, err)
		r.dead[s] = true
		return nil, &recorded{err}
	}
	r.indexes[s] = rs
	return rs, nil
}

// errDead is a source that failed earlier in this run: its failure is in the report already.
var errDead = &recorded{errors.New("source failed earlier in this run")}

// recorded is a failure already in the report's attempts.
type recorded struct{ error }

func (e *recorded) Unwrap() error { return e.error }

// resolve turns spec into an exact release, asking the first index that answers.
func (r *run) resolve(ctx context.Context, spec mirror.Spec) (string, error) {
	if spec.Kind == mirror.Exact {
		return spec.Version, nil
	}
	for _, s := range r.srcs.indexOrder() {
		vs, err := r.versions(ctx, s)
		if final(err) {
			return "", err
		}
		if err != nil || len(vs) == 0 {
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

// firstVersions is the release list of the first index that answers, in index order.
func (r *run) firstVersions(ctx context.Context) (*Source, []mirror.Version, error) {
	for _, s := range r.srcs.indexOrder() {
		vs, err := r.versions(ctx, s)
		if final(err) {
			return nil, nil, err
		}
		if err == nil && len(vs) > 0 {
			return s, vs, nil
		}
	}
	return nil, nil, &NoSourceError{What: "the list of releases", Attempts: r.rep.Attempts}
}

// versions returns the releases s lists for the platform; an error when s has no index or it
// could not be read (the failure is recorded).
func (r *run) versions(ctx context.Context, s *Source) ([]mirror.Version, error) {
	switch s.Kind {
	case KindOfficial:
		rs, err := r.officialIndex(ctx, s)
		if err != nil {
			return nil, err
		}
		return mirror.Versions(rs, r.in.opts.Platform), nil
	case KindProxy:
		return r.proxyVersions(ctx, s)
	case KindCache:
		return r.in.cachedVersions(), nil
	case KindBundle:
		t, err := r.openTree(s)
		if err != nil {
			return nil, err
		}
		var vs []mirror.Version
		for _, e := range t.Manifest.Entries {
			if e.Platform == r.in.opts.Platform.String() {
				vs = append(vs, mirror.Version{Version: e.Version, Stable: mirror.IsStable(e.Version)})
			}
		}
		return vs, nil
	}
	return nil, errDead
}

// proxyVersions lists the Go versions a GOPROXY source offers for the platform, fetching its
// list once per run (a tree of several specs resolves each against it).
func (r *run) proxyVersions(ctx context.Context, s *Source) ([]mirror.Version, error) {
	if vs, ok := r.lists[s]; ok {
		return vs, nil
	}
	if r.isDead(s) {
		return nil, errDead
	}
	start := time.Now()
	var vs []mirror.Version
	var listURL string
	err := s.proxies.Try(func(base string) error {
		tp := mirror.ToolchainProxy{Base: base}
		listURL = tp.ListURL()
		var err error
		vs, err = tp.List(ctx, r.in.client, r.in.opts.Platform)
		return err
	})
	if err != nil {
		r.fail(s, listURL, "index", start, err)
		r.dead[s] = true
		return nil, &recorded{err}
	}
	r.lists[s] = vs
	return vs, nil
}

// openTree opens a bundle once per run; a bundle that cannot be opened is recorded and dead.
func (r *run) openTree(s *Source) (*offline.Tree, error) {
	if t, ok := r.trees[s]; ok {
		return t, nil
	}
	if r.isDead(s) {
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
		return nil, &recorded{err}
	}
	r.trees[s] = t
	return t, nil
}

// tryWithin tries s within its time budget.
func (r *run) tryWithin(ctx context.Context, s *Source, v string) (*staged, error) {
	cctx, cancel := context.WithTimeout(ctx, r.in.opts.SourceTimeout)
	defer cancel()
	return r.try(cctx, s, v)
}

// try installs v from s into a staging tree, or records why it could not.
func (r *run) try(ctx context.Context, s *Source, v string) (*staged, error) {
	start := time.Now()
	if s.Kind == KindProxy {
		return r.tryProxy(ctx, s, v, start)
	}
	c, err := r.candidate(ctx, s, v)
	if err != nil {
		var rec *recorded
		if errors.As(err, &rec) {
			return nil, err
		}
		url := s.URL
		if c != nil {
			url = c.url
		}
		r.fail(s, url, stageOf(err), start, err)
		return nil, err
	}
	st, err := r.fetch(ctx, c)
	if err != nil {
		r.fail(s, c.url, stageOf(err), start, err)
		return nil, err
	}
	r.succeed(s.Kind, s.URL, c.url, start, st.resumes)
	return st, nil
}

// tryProxy installs v from the golang.org/toolchain module through a GOPROXY list.
func (r *run) tryProxy(ctx context.Context, s *Source, v string, start time.Time) (*staged, error) {
	c := r.proxyCandidate(s, v)
	var st *staged
	var served string
	tried := false
	// Each proxy of the list is its own attempt: the report names the one that served, or
	// each one that failed, not the whole list.
	err := s.proxies.Try(func(base string) error {
		tp := mirror.ToolchainProxy{Base: base}
		c.url = tp.ZipURL(c.ev.Want.Module)
		tried = true
		at := time.Now()
		err := tp.Info(ctx, r.in.client, c.ev.Want.Module)
		if err == nil {
			st, err = r.fetch(ctx, c)
		}
		if err != nil {
			r.failed(s.Kind, base, c.url, stageOf(err), at, err)
			return err
		}
		served = base
		return nil
	})
	if err != nil {
		if failure.Classify(err) != failure.NotFound {
			r.dead[s] = true
		}
		if !tried { // the list is "off"
			r.fail(s, s.URL, stageOf(err), start, err)
		}
		return nil, err
	}
	r.succeed(s.Kind, served, c.url, start, st.resumes)
	return st, nil
}

func stageOf(err error) string {
	switch failure.Classify(err) {
	case failure.ChecksumMismatch, failure.SumDBSecurity, failure.Untrusted:
		return "verify"
	case failure.ArchiveUnsafe:
		return "extract"
	case failure.Disk:
		return "install"
	}
	return "download"
}

// finish commits a verified staging tree and fills in the report.
func (r *run) finish(st *staged, v string) error {
	installed, err := r.in.layout.Commit(st.dir, v, r.in.opts.Use)
	if err != nil {
		layout.RemoveAll(st.dir)
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
		if m, ok := r.in.layout.Intact(v); ok {
			r.rep.Source, r.rep.Verified = &m.Source, &m.Verified
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
