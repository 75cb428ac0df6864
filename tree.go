package gostrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/archive"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// TreeOptions describe a release tree to make or bring up to date: an offline bundle
// (`bundle create`) or a fleet mirror (`mirror sync`).
type TreeOptions struct {
	Out string
	// Specs are version requests (latest, 1.N, 1.N.M...); none means latest.
	Specs []string
	// Since adds every stable release from this line on ("1.21").
	Since     string
	Platforms []mirror.Platform
	// Zips holds the toolchain module zips (the file:// GOPROXY layout); Archives the release
	// archives (the flat mirror layout and index.json).
	Zips, Archives bool
	// Tar packs the tree into one uncompressed tar at Out.
	Tar bool
	// Gostrap puts gostrap itself into the tree for its platforms, with install.sh and
	// install.ps1 (carry.go); GostrapDist takes the binaries from a `go run ./internal/dist`
	// output directory instead of rebuilding them.
	Gostrap     bool
	GostrapDist string
}

// TreeReport says what a sync did.
type TreeReport struct {
	Out      string          `json:"out"`
	Entries  []offline.Entry `json:"entries"`
	Fetched  int64           `json:"bytes_fetched"`
	Reused   int             `json:"files_reused"`
	Added    int             `json:"files_added"`
	Attempts []Attempt       `json:"attempts"`
	// Failed lists the releases that could not be added at all.
	Failed []string `json:"failed,omitempty"`
	// Missing lists what releases that were added lack, and why: a tree holds what the
	// sources that answered could give (module zips from a proxy, archives from an official
	// index, proofs from the checksum database), and says what they could not.
	Missing []string `json:"missing,omitempty"`
}

// SyncTree makes or updates a release tree: for each release and platform, the checksum
// database's proof (recorded as a fresh client reads it, so it can be replayed offline), the
// module zip and/or the release archive, each fetched through the same sources, fallback and
// verification as an install. Files already in the tree and matching its manifest are kept;
// only what is missing or fails its check is fetched.
func (in *Installer) SyncTree(ctx context.Context, o TreeOptions) (*TreeReport, error) {
	if len(o.Platforms) == 0 {
		o.Platforms = []mirror.Platform{in.opts.Platform}
	}
	dir := o.Out
	if o.Tar {
		dir = o.Out + ".parts"
	}
	// One remote for the whole sync: the base it finds (a proxy's /sumdb/, or the database
	// itself) is kept, not looked for again for every release.
	db, remote, err := in.sumdbRemote(ctx)
	if err != nil {
		return nil, err
	}
	w, err := offline.OpenWriter(dir, db.Name)
	if err != nil {
		return nil, err
	}
	rep := &TreeReport{Out: o.Out, Attempts: []Attempt{}}
	srcs, err := in.Sources(ctx)
	if err != nil {
		return rep, err
	}
	r := newRun(ctx, in, &Report{Attempts: []Attempt{}}, srcs)
	defer r.close()
	defer func() { rep.Attempts = r.rep.Attempts }()
	r.probe(ctx)
	versions, err := r.treeVersions(ctx, o)
	if err != nil {
		return rep, err
	}
	var firstErr error
	for _, v := range versions {
		for _, p := range o.Platforms {
			e, missing, err := r.syncRelease(ctx, w, db, remote, o, v, p, rep)
			for _, m := range missing {
				in.logf("%s %s: %s", v, p, m)
				rep.Missing = append(rep.Missing, v+" "+p.String()+": "+m)
			}
			if err != nil {
				in.logf("%s %s: %v", v, p, firstLine(err.Error()))
				rep.Failed = append(rep.Failed, v+" "+p.String()+": "+firstLine(err.Error()))
				if firstErr == nil {
					firstErr = err
				}
				if final(err) {
					return rep, err
				}
				continue
			}
			w.Record(e)
			rep.Entries = append(rep.Entries, e)
		}
	}
	if o.Gostrap {
		missing, err := r.carryGostrap(ctx, w, o, rep)
		for _, m := range missing {
			in.logf("%s", m)
			rep.Missing = append(rep.Missing, m)
		}
		if err != nil {
			return rep, err
		}
	}
	m, err := w.Finish()
	if err != nil {
		return rep, err
	}
	if o.Tar {
		if err := offline.Pack(dir, m, o.Out); err != nil {
			return rep, err
		}
		layout.RemoveAll(dir)
	}
	if firstErr != nil {
		what := fmt.Sprintf("%d of %d releases could not be added", len(rep.Failed), len(versions)*len(o.Platforms))
		if len(rep.Entries) > 0 {
			what += fmt.Sprintf(" (the other %d are in %s)", len(rep.Entries), o.Out)
		}
		return rep, fmt.Errorf("%s: %w", what, firstErr)
	}
	return rep, nil
}

// treeVersions resolves the requested versions against the first index that answers.
func (r *run) treeVersions(ctx context.Context, o TreeOptions) ([]string, error) {
	specs := o.Specs
	if len(specs) == 0 && o.Since == "" {
		specs = []string{"latest"}
	}
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, raw := range specs {
		spec, err := mirror.ParseSpec(raw)
		if err != nil {
			return nil, err
		}
		if spec.Kind == mirror.Exact {
			add(spec.Version)
			continue
		}
		v, err := r.resolve(ctx, spec)
		if err != nil {
			return nil, err
		}
		add(v)
	}
	if o.Since != "" {
		since, err := mirror.ParseSpec(o.Since)
		if err != nil || since.Kind == mirror.Latest {
			return nil, fmt.Errorf("invalid --since %q: want 1.N", o.Since)
		}
		_, list, err := r.firstVersions(ctx)
		if err != nil {
			return nil, err
		}
		var vs []string
		for _, v := range list {
			if v.Stable && mirror.CompareVersions(v.Version, since.Version) >= 0 {
				vs = append(vs, v.Version)
			}
		}
		mirror.SortVersions(vs)
		for _, v := range vs {
			add(v)
		}
	}
	return out, nil
}

// prove looks module up with a fresh, in-memory checksum-database client whose every remote
// read is kept in the tree: exactly what the same fresh client needs later, offline, to prove
// the record.
func (r *run) prove(ctx context.Context, w *offline.Writer, db verify.DB, remote verify.Remote, module string) (string, error) {
	var mu sync.Mutex
	reads := map[string][]byte{}
	fresh := verify.NewSumDB(db, func(ctx context.Context, path string) ([]byte, error) {
		data, err := remote(ctx, path)
		if err == nil {
			mu.Lock()
			reads[path] = data
			mu.Unlock()
		}
		return data, err
	}, &verify.MemStore{})
	h1, err := fresh.Lookup(ctx, verify.ToolchainModule, module)
	if err != nil {
		return "", err
	}
	for path, data := range reads {
		if err := w.Put(offline.SumDBPath(db.Name, path), data); err != nil {
			return "", err
		}
	}
	return h1, nil
}

// syncRelease brings one release for one platform into the tree: whatever the sources that
// answer can give, each part verified. missing says what the entry lacks and why; err is a
// release that could not be added at all, or a failure that ends the sync (an attack, the disk).
func (r *run) syncRelease(ctx context.Context, w *offline.Writer, db verify.DB, remote verify.Remote, o TreeOptions, v string, p mirror.Platform, rep *TreeReport) (e offline.Entry, missing []string, err error) {
	module := p.ToolchainVersion(v)
	e = offline.Entry{Version: v, Platform: p.String(), Module: module}
	record := offline.SumDBPath(db.Name, "/lookup/"+verify.ToolchainModule+"@"+module)
	prev, hadPrev := w.Previous(v, p.String())
	var proofErr error
	if hadPrev && prev.H1 != "" && w.Have(prev.Record) {
		e.H1, e.Record = prev.H1, prev.Record
		rep.Reused++
	} else if h1, err := r.prove(ctx, w, db, remote, module); err == nil {
		e.H1, e.Record = h1, record
	} else if final(err) || ctx.Err() != nil {
		return e, nil, err
	} else {
		proofErr = err
		missing = append(missing, "no checksum-database proof (the database could not be reached: "+firstLine(failure.Explain(err).Message)+
			"), so the release cannot be verified offline from this tree")
	}
	want := verify.Release{Version: v, Platform: p.String(), Module: module}
	var proof *verify.SumDBClaim
	if e.H1 != "" {
		proof = &verify.SumDBClaim{Module: module, H1: e.H1, DB: db.Name}
	}
	var errs []error
	if o.Zips {
		zp := offline.ZipPath(module)
		switch {
		case w.Have(zp) && proof != nil:
			rep.Reused++
			e.Zip = zp
		case proof == nil:
			missing = append(missing, "no module zip: only the checksum database can vouch for it")
			errs = append(errs, proofErr)
		default:
			if err := r.fetchTreeZip(ctx, w, zp, want, proof, rep); err != nil {
				if final(err) || ctx.Err() != nil {
					return e, missing, err
				}
				missing = append(missing, "no module zip: "+r.unreachable(err, KindProxy))
				errs = append(errs, err)
			} else {
				e.Zip = zp
			}
		}
	}
	if o.Archives {
		ap := p.ArchiveName(v)
		if hadPrev && prev.Archive == ap && w.Have(ap) && (proof != nil || prev.OfficialSHA256) {
			e.Archive, e.OfficialSHA256 = ap, prev.OfficialSHA256
			rep.Reused++
		} else if official, err := r.fetchTreeArchive(ctx, w, ap, want, proof, rep); err != nil {
			if final(err) || ctx.Err() != nil {
				return e, missing, err
			}
			missing = append(missing, "no release archive: "+r.unreachable(err, KindOfficial, KindMirror))
			errs = append(errs, err)
		} else {
			e.Archive, e.OfficialSHA256 = ap, official
		}
	}
	if e.Zip == "" && e.Archive == "" {
		return e, missing, errors.Join(errs...)
	}
	return e, missing, nil
}

// unreachable says why the sources of the given kinds could not serve a file: none is
// configured (or --sources leaves them out), or they are configured and each failed as the
// report's attempts say.
func (r *run) unreachable(err error, kinds ...Kind) string {
	var causes []string
	seen := map[*Source]bool{}
	for _, s := range r.srcs.Order {
		if !slices.Contains(kinds, s.Kind) || seen[s] {
			continue
		}
		seen[s] = true
		for i := len(r.rep.Attempts) - 1; i >= 0; i-- {
			a := r.rep.Attempts[i]
			if a.Source == failure.Redact(s.URL) && a.Kind == string(s.Kind) && a.Error != nil {
				causes = append(causes, fmt.Sprintf("%s %s: %s", s.Kind, a.Source, a.Error.Class))
				break
			}
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	if len(seen) == 0 {
		return "no " + strings.Join(names, " or ") + " source configured (or --sources leaves them out)"
	}
	if len(causes) == 0 {
		return firstLine(failure.Explain(err).Message)
	}
	return strings.Join(names, " and ") + " sources configured but unreachable (" + strings.Join(causes, "; ") + ")"
}

// fetchTreeZip fetches a toolchain module zip through the GOPROXY sources into the tree, and
// puts it to verify.Decide with the proven record.
func (r *run) fetchTreeZip(ctx context.Context, w *offline.Writer, zp string, want verify.Release, proof *verify.SumDBClaim, rep *TreeReport) error {
	var lastErr error = &NoSourceError{What: want.Module + " (no module proxy configured, or --sources leaves it out)"}
	for _, s := range r.srcs.Order {
		if s.Kind != KindProxy || r.isDead(s) {
			continue
		}
		start := time.Now()
		var url string
		err := s.proxies.Try(func(base string) error {
			url = mirror.ToolchainProxy{Base: base}.ZipURL(want.Module)
			return r.fetchTreeFile(ctx, w, zp, url, 0, mirror.MaxZipFile, func(tmp string, res download.FetchResult) error {
				ev := verify.Evidence{Kind: verify.FromProxy, Format: verify.ModuleZip, Want: want, File: path.Base(zp), SumDB: proof,
					Got: &verify.Fetched{SHA256: res.SHA256, Size: res.Size, Module: want.Module, ModesByRule: true}}
				ev.Got.H1, ev.Got.Extract = treeHash(tmp, func(f *os.File, size int64) (string, error) { return verify.ZipH1(f, size) })
				_, err := verify.Decide(ev)
				return err
			}, rep)
		})
		if err == nil {
			r.succeed(s.Kind, s.URL, url, start, 0)
			return nil
		}
		r.fail(s, url, stageOf(err), start, err)
		lastErr = err
		if final(err) {
			return err
		}
	}
	return lastErr
}

// fetchTreeArchive fetches a release archive from the official sites and mirrors into the tree,
// and puts it to verify.Decide with the first official index's entry (reported true when it
// vouched) and the proven record.
func (r *run) fetchTreeArchive(ctx context.Context, w *offline.Writer, ap string, want verify.Release, proof *verify.SumDBClaim, rep *TreeReport) (bool, error) {
	index := r.officialClaim(ctx, want.Version, ap, false)
	if index == nil && proof == nil {
		index = r.officialClaim(ctx, want.Version, ap, true)
	}
	if index == nil && proof == nil {
		// Nothing could vouch for the bytes: they are not fetched.
		return false, &verify.UntrustedError{File: ap}
	}
	var size int64
	if index != nil {
		size = index.Size
	}
	var lastErr error = &NoSourceError{What: ap + " (no official or mirror source configured, or --sources leaves them out)"}
	for _, s := range r.srcs.Order {
		if r.isDead(s) || s.Kind != KindOfficial && s.Kind != KindMirror {
			continue
		}
		url := s.URL + ap
		start := time.Now()
		var official bool
		err := r.fetchTreeFile(ctx, w, ap, url, size, maxDownload, func(tmp string, res download.FetchResult) error {
			ev := verify.Evidence{Kind: verify.Kind(s.Kind), Format: verify.Archive, Want: want, File: ap, Index: index, SumDB: proof,
				Got: &verify.Fetched{SHA256: res.SHA256, Size: res.Size, Module: want.Module, ModesByRule: true}}
			ev.Got.H1, ev.Got.Extract = treeHash(tmp, func(f *os.File, size int64) (string, error) {
				if strings.HasSuffix(ap, ".zip") {
					return verify.ZipArchiveH1(f, size, want.Module)
				}
				return verify.ArchiveH1(f, want.Module)
			})
			ver, err := verify.Decide(ev)
			official = ver.SHA256 != ""
			return err
		}, rep)
		if err == nil {
			r.succeed(s.Kind, s.URL, url, start, 0)
			return official, nil
		}
		r.fail(s, url, stageOf(err), start, err)
		lastErr = err
		if final(err) {
			return false, err
		}
	}
	return false, lastErr
}

// treeHash is the h1 of a file fetched into a tree, or why it has none: a file that cannot be
// read as an archive is malformed.
func treeHash(p string, hash func(f *os.File, size int64) (string, error)) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", &failure.DiskError{Op: "open", Path: p, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", &failure.DiskError{Op: "stat", Path: p, Err: err}
	}
	h1, err := hash(f, st.Size())
	if err != nil {
		return "", &archive.MalformedError{Err: err}
	}
	return h1, nil
}

// fetchTreeFile downloads url to a resumable partial file in the tree, checks it, and moves it to p.
func (r *run) fetchTreeFile(ctx context.Context, w *offline.Writer, p, url string, size, max int64,
	check func(tmp string, res download.FetchResult) error, rep *TreeReport) error {
	if err := os.MkdirAll(w.Tmp(), 0o755); err != nil {
		return &failure.DiskError{Op: "create", Path: w.Tmp(), Err: err}
	}
	tmp := filepath.Join(w.Tmp(), strings.ReplaceAll(p, "/", "_")+".partial")
	res, err := r.in.client.Fetch(ctx, download.FetchRequest{URL: url, Partial: tmp, Size: size, Max: max, Label: filepath.Base(p)})
	rep.Fetched += res.Fetched
	if err != nil {
		if badBytes(err) {
			download.RemovePartial(tmp)
		}
		return err
	}
	if err := check(tmp, res); err != nil {
		download.RemovePartial(tmp)
		return err
	}
	rep.Added++
	return w.Adopt(p, tmp, res.Size, res.SHA256)
}
