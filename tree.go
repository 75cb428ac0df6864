package gostrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/download"
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
}

// TreeReport says what a sync did.
type TreeReport struct {
	Out      string          `json:"out"`
	Entries  []offline.Entry `json:"entries"`
	Fetched  int64           `json:"bytes_fetched"`
	Reused   int             `json:"files_reused"`
	Added    int             `json:"files_added"`
	Attempts []Attempt       `json:"attempts"`
	Failed   []string        `json:"failed,omitempty"`
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
	db, err := in.SumDB(ctx)
	if err != nil {
		return nil, err
	}
	w, err := offline.OpenWriter(dir, db.Name())
	if err != nil {
		return nil, err
	}
	rep := &TreeReport{Out: o.Out, Attempts: []Attempt{}}
	srcs, err := in.Sources(ctx)
	if err != nil {
		return rep, err
	}
	r := newRun(ctx, in, &Report{Attempts: []Attempt{}}, srcs)
	defer func() { rep.Attempts = r.rep.Attempts }()
	r.probe(ctx)
	versions, err := r.treeVersions(ctx, o)
	if err != nil {
		return rep, err
	}
	var firstErr error
	for _, v := range versions {
		for _, p := range o.Platforms {
			e, err := r.syncRelease(ctx, w, db, o, v, p, rep)
			if err != nil {
				in.logf("%s %s: %v", v, p, firstLine(err.Error()))
				rep.Failed = append(rep.Failed, v+" "+p.String()+": "+firstLine(err.Error()))
				if firstErr == nil {
					firstErr = err
				}
				var se *verify.SecurityError
				if errors.As(err, &se) {
					return rep, err
				}
				continue
			}
			w.Record(e)
			rep.Entries = append(rep.Entries, e)
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
		os.RemoveAll(dir)
	}
	if firstErr != nil {
		return rep, fmt.Errorf("%d of %d releases could not be added (the rest are in %s): %w",
			len(rep.Failed), len(versions)*len(o.Platforms), o.Out, firstErr)
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
	var list []mirror.Version
	listed := false
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
		for _, s := range r.srcs.indexOrder() {
			if list, listed = r.versions(ctx, s); listed {
				break
			}
		}
		if !listed {
			return nil, &NoSourceError{What: "the list of releases", Attempts: r.rep.Attempts}
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

// recorder is a fresh, in-memory checksum-database client whose every remote read is kept in
// the tree: exactly what the same fresh client needs later, offline, to prove the record.
func (r *run) prove(ctx context.Context, w *offline.Writer, db *verify.SumDB, module string) (string, error) {
	var mu sync.Mutex
	reads := map[string][]byte{}
	dbc, err := verify.ParseGOSUMDB(db.Key())
	if err != nil {
		return "", err
	}
	fresh := verify.NewSumDB(verify.SumDBOptions{DB: dbc, Remote: func(ctx context.Context, path string) ([]byte, error) {
		data, err := db.ReadRemote(ctx, path)
		if err == nil {
			mu.Lock()
			reads[path] = data
			mu.Unlock()
		}
		return data, err
	}})
	h1, err := fresh.Lookup(ctx, mirror.ToolchainModule, module)
	if err != nil {
		return "", err
	}
	for path, data := range reads {
		if err := w.Put(offline.SumDBPath(db.Name(), path), data); err != nil {
			return "", err
		}
	}
	return h1, nil
}

// syncRelease brings one release for one platform into the tree.
func (r *run) syncRelease(ctx context.Context, w *offline.Writer, db *verify.SumDB, o TreeOptions, v string, p mirror.Platform, rep *TreeReport) (offline.Entry, error) {
	module := p.ToolchainVersion(v)
	e := offline.Entry{Version: v, Platform: p.String(), Module: module,
		Record: offline.SumDBPath(db.Name(), "/lookup/"+mirror.ToolchainModule+"@"+module)}
	prev, hadPrev := w.Previous(v, p.String())
	if hadPrev && prev.H1 != "" && w.Have(prev.Record) {
		e.H1 = prev.H1
		rep.Reused++
	} else {
		h1, err := r.prove(ctx, w, db, module)
		if err != nil {
			return e, fmt.Errorf("no checksum-database proof for %s, so the release could not be verified offline: %w", module, err)
		}
		e.H1 = h1
	}
	if o.Zips {
		zp := offline.ZipPath(module)
		if w.Have(zp) {
			rep.Reused++
		} else if err := r.fetchTreeZip(ctx, w, zp, module, e.H1, rep); err != nil {
			return e, err
		}
		e.Zip = zp
	}
	if o.Archives {
		ap := p.ArchiveName(v)
		if hadPrev && prev.Archive == ap && w.Have(ap) {
			e.OfficialSHA256 = prev.OfficialSHA256
			rep.Reused++
		} else {
			official, err := r.fetchTreeArchive(ctx, w, ap, v, p, e.H1, rep)
			if err != nil {
				return e, err
			}
			e.OfficialSHA256 = official
		}
		e.Archive = ap
	}
	return e, nil
}

// fetchTreeZip fetches a toolchain module zip through the GOPROXY sources into the tree and
// checks it against the proven h1.
func (r *run) fetchTreeZip(ctx context.Context, w *offline.Writer, zp, module, h1 string, rep *TreeReport) error {
	var lastErr error = &NoSourceError{What: module + " (no proxy source configured)"}
	for _, s := range r.srcs.Order {
		if s.Kind != KindProxy || r.dead[s] {
			continue
		}
		start := time.Now()
		var url string
		err := s.proxies.Try(func(base string) error {
			url = mirror.ToolchainProxy{Base: base}.ZipURL(module)
			return r.fetchTreeFile(ctx, w, zp, url, 0, mirror.MaxZipFile, func(tmp string, res download.FetchResult) error {
				f, err := os.Open(tmp)
				if err != nil {
					return err
				}
				defer f.Close()
				got, err := offline.ZipH1(f)
				if err != nil {
					return &verify.SecurityError{Detail: fmt.Sprintf("verifying %s: the download cannot match the checksum database: %v", module, err)}
				}
				return checkH1(module, got, h1Result{h1, r.in.sumdbName()})
			}, rep)
		})
		if err == nil {
			r.succeed(s, url, start)
			return nil
		}
		r.fail(s, url, stageOf(err), start, err)
		lastErr = err
		var se *verify.SecurityError
		if errors.As(err, &se) {
			return err
		}
	}
	return lastErr
}

// fetchTreeArchive fetches a release archive from the official sites and mirrors into the tree,
// verified by an official index's sha256 (reported true) or else by its tree hash against the
// proven h1.
func (r *run) fetchTreeArchive(ctx context.Context, w *offline.Writer, ap, v string, p mirror.Platform, h1 string, rep *TreeReport) (bool, error) {
	var sha string
	var size int64
	for _, s := range r.srcs.Official {
		if rs, err := r.officialIndex(ctx, s); err == nil {
			if f, err := archiveOf(rs, v, p); err == nil {
				sha, size = f.SHA256, f.Size
				break
			}
		}
	}
	var lastErr error = &NoSourceError{What: ap + " (no official or mirror source configured)"}
	for _, s := range r.srcs.Order {
		if r.dead[s] || s.Kind != KindOfficial && s.Kind != KindMirror {
			continue
		}
		url := s.URL + ap
		start := time.Now()
		max := int64(maxDownload)
		err := r.fetchTreeFile(ctx, w, ap, url, size, max, func(tmp string, res download.FetchResult) error {
			if sha != "" {
				return verify.SHA256(ap, sha, res.SHA256, "an official index")
			}
			f, err := os.Open(tmp)
			if err != nil {
				return err
			}
			defer f.Close()
			got, err := offline.ArchiveH1(f, p.ToolchainVersion(v))
			if err != nil {
				return &verify.SecurityError{Detail: fmt.Sprintf("verifying %s: the archive cannot match the checksum database: %v", ap, err)}
			}
			return checkH1(p.ToolchainVersion(v), got, h1Result{h1, r.in.sumdbName()})
		}, rep)
		if err == nil {
			r.succeed(s, url, start)
			return sha != "", nil
		}
		r.fail(s, url, stageOf(err), start, err)
		lastErr = err
		var se *verify.SecurityError
		if errors.As(err, &se) {
			return false, err
		}
	}
	return false, lastErr
}

// fetchTreeFile downloads url to a resumable partial file in the tree, checks it, and moves it to p.
func (r *run) fetchTreeFile(ctx context.Context, w *offline.Writer, p, url string, size, max int64,
	check func(tmp string, res download.FetchResult) error, rep *TreeReport) error {
	if err := os.MkdirAll(w.Tmp(), 0o755); err != nil {
		return &download.DiskError{Op: "create", Path: w.Tmp(), Err: err}
	}
	tmp := filepath.Join(w.Tmp(), strings.ReplaceAll(p, "/", "_")+".partial")
	res, err := r.in.client.Fetch(ctx, download.FetchRequest{URL: url, Partial: tmp, Size: size, Max: max, Label: filepath.Base(p)})
	rep.Fetched += res.Fetched
	if err != nil {
		if badBytes(err) {
			os.Remove(tmp)
		}
		return err
	}
	if err := check(tmp, res); err != nil {
		os.Remove(tmp)
		return err
	}
	rep.Added++
	return w.Adopt(p, tmp, res.Size, res.SHA256)
}

func (in *Installer) sumdbName() string {
	if in.sumdb != nil {
		return in.sumdb.Name()
	}
	return "the checksum database"
}
