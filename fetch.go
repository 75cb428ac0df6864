package gostrap

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/archive"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/verify"
)

// staged is a verified tree in a staging directory, ready to be renamed into place.
type staged struct {
	dir     string
	meta    layout.Meta
	fetched int64
	resumes int
}

// fetch gets c's bytes (downloading them, replaying a verified earlier download, or reading
// them from a bundle), extracts them into a staging tree as they arrive, and puts the evidence
// to verify.Decide: before the download, whether anything can vouch and how to extract; after,
// whether the tree may be installed. The staging tree is removed on any failure; a partial
// download is kept for a later resume unless its bytes were proven bad.
func (r *run) fetch(ctx context.Context, c *candidate) (st *staged, err error) {
	if c.ev.SumDB == nil && c.h1 != nil {
		c.ev.SumDB = c.h1.claim(ctx, noWait)
	}
	plan, err := verify.Decide(c.ev)
	if err != nil {
		var ue *verify.UntrustedError
		if errors.As(err, &ue) && c.ev.Kind == verify.FromMirror {
			// Say the mirror cannot serve rather than that it is untrusted when it cannot: an
			// outage is not a verification failure.
			if _, herr := r.in.client.Head(ctx, c.url); herr != nil {
				return nil, herr
			}
		}
		return nil, err
	}
	v := c.ev.Want.Version
	dir, err := r.in.layout.NewStaging(v)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			layout.RemoveAll(dir)
		}
	}()
	xo := archive.Options{Prefix: "go/", AfterFile: extractionHook()}
	if plan.ModesByRule {
		xo.Modes = archive.ByRule
	}
	if c.ev.Format == verify.ModuleZip {
		xo.Prefix, xo.Rename = verify.ToolchainModule+"@"+c.ev.Want.Module+"/", verify.ReleaseName
	}

	var (
		x       *archive.Extractor
		res     download.FetchResult
		xerr    error
		partial string // the cache file to keep once verified
	)
	if c.local != nil {
		x, res, xerr, err = r.readLocal(ctx, c, dir, xo)
	} else {
		final := r.in.cache.Download(c.cacheName)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return nil, &failure.DiskError{Op: "create", Path: filepath.Dir(final), Err: err}
		}
		unlock, lerr := layout.Lock(ctx, final+".lock")
		if lerr != nil {
			return nil, lerr
		}
		defer unlock()
		partial = final + ".partial"
		x, res, xerr, err = r.download(ctx, c, final, dir, xo)
	}
	if x != nil {
		defer x.Close()
	}
	if err != nil {
		if badBytes(err) && partial != "" {
			download.RemovePartial(partial)
		}
		return nil, err
	}
	layout.Checkpoint("after-download")

	ver, err := r.decide(ctx, c, plan, res, x, xerr)
	if err == nil {
		if x != nil {
			x.Close() // its open directories: Windows cannot always remove a directory held open
		}
		err = r.finishStaging(c, dir, ver)
	}
	if err != nil {
		if partial != "" && failure.Classify(err) != failure.Disk {
			download.RemovePartial(partial)
		}
		return nil, err
	}
	meta := layout.Meta{Version: v, Platform: r.in.opts.Platform.String(),
		Source: layout.SourceRef{Kind: string(c.src.Kind), URL: failure.Redact(c.url)}, Verified: ver.Verified,
		InstalledAt: time.Now().UTC().Truncate(time.Second)}
	if err := writeMeta(dir, meta); err != nil {
		return nil, err
	}
	if partial != "" {
		// Keep the verified download for reinstalls and offline use; a replay of the cache
		// keeps the record of its first verification.
		rec := layout.Record{Size: res.Size, SHA256: res.SHA256, Version: v, Platform: c.ev.Want.Platform,
			Verified: meta.Verified, Source: meta.Source, Time: meta.InstalledAt}
		if c.cached != nil {
			rec = *c.cached
		}
		r.in.cache.Keep(partial, c.cacheName, rec)
	}
	return &staged{dir: dir, meta: meta, fetched: res.Fetched, resumes: res.Resumes}, nil
}

// decide puts what arrived to verify.Decide, once the checksum database has answered or has
// had the time its place in the plan gives it.
func (r *run) decide(ctx context.Context, c *candidate, plan verify.Verdict, res download.FetchResult, x *archive.Extractor, xerr error) (verify.Verdict, error) {
	got := &verify.Fetched{SHA256: res.SHA256, Size: res.Size, Module: c.ev.Want.Module, ModesByRule: plan.ModesByRule, Extract: xerr}
	if xerr == nil {
		var err error
		if c.ev.Format == verify.ModuleZip {
			got.H1, err = x.Hashes().H1Prefixed(verify.ToolchainModule + "@" + c.ev.Want.Module + "/")
		} else {
			got.H1, err = x.Hashes().ToolchainH1(c.ev.Want.Module)
		}
		if err != nil {
			got.Extract = &archive.UnsafeError{Entry: c.cacheName, Reason: err.Error()}
		}
	}
	if c.ev.SumDB == nil && c.h1 != nil {
		wait := briefly
		if plan.NeedSumDB {
			wait = forever
		}
		c.ev.SumDB = c.h1.claim(ctx, wait)
	}
	c.ev.Got = got
	ver, err := verify.Decide(c.ev)
	if err != nil {
		return ver, err
	}
	if ver.Warning != "" {
		r.in.logf("warning: %s", ver.Warning)
	}
	return ver, nil
}

// finishStaging removes from the verified tree what nothing vouched for and checks that it is
// the release asked for.
func (r *run) finishStaging(c *candidate, dir string, ver verify.Verdict) error {
	if ver.StripOmitted {
		for _, d := range verify.OmittedDirs() {
			if err := layout.RemoveAll(filepath.Join(dir, d)); err != nil {
				return &failure.DiskError{Op: "remove", Path: filepath.Join(dir, d), Err: err}
			}
		}
	}
	v := c.ev.Want.Version
	if got, err := layout.ReadVERSION(dir); err != nil || got != v {
		if err != nil {
			return &archive.UnsafeError{Entry: "go/VERSION", Reason: "missing: " + err.Error()}
		}
		return &archive.UnsafeError{Entry: "go/VERSION", Reason: fmt.Sprintf("archive holds %s, not %s", got, v)}
	}
	return nil
}

func writeMeta(dir string, m layout.Meta) error {
	data, _ := json.MarshalIndent(m, "", "  ")
	p := filepath.Join(dir, layout.MetaFile)
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		return &failure.DiskError{Op: "write", Path: p, Err: err}
	}
	return nil
}

// extractionHook is the test hooks' way into an extraction: the crash checkpoint after the
// eighth file, and GOSTRAP_TEST_SLOW_FILES=D, a pause after every file that stands in for a
// slow disk, so that a test can interrupt an extraction under way.
func extractionHook() func(int) {
	slow, _ := time.ParseDuration(os.Getenv("GOSTRAP_TEST_SLOW_FILES"))
	crash := os.Getenv(layout.CrashEnv) == "mid-extraction"
	if slow <= 0 && !crash {
		return nil
	}
	return func(n int) {
		if n == 8 {
			layout.Checkpoint("mid-extraction")
		}
		time.Sleep(slow)
	}
}

// download fetches c into the cache (resuming, or replaying an earlier verified download) and
// extracts it into dir.
func (r *run) download(ctx context.Context, c *candidate, final, dir string, xo archive.Options) (x *archive.Extractor, res download.FetchResult, xerr, err error) {
	in := r.in
	req := download.FetchRequest{URL: c.url, Partial: final + ".partial", Size: c.size, Max: c.max, Label: c.cacheName}
	if rec, ok := in.cache.ReadRecord(c.cacheName); ok && (c.size == 0 || c.size == rec.Size) {
		// A verified earlier download: replay it from disk (Fetch finds it complete), and let
		// this candidate's evidence judge it again.
		if err := layout.Rename(final, req.Partial); err == nil {
			req.Size = rec.Size
			in.logf("reusing %s from the download cache (verified on %s); checking it again", c.cacheName, rec.Time.Format("2006-01-02"))
		}
	}
	if !c.zip {
		if x, err = archive.New(ctx, dir, xo); err != nil {
			return nil, res, nil, err
		}
		res, err, xerr = streamTarGz(ctx, in.client, req, x)
		return x, res, xerr, err
	}
	fetch := true
	if c.ev.Format == verify.ModuleZip && req.Size == 0 {
		// The zip's size is not declared: fetch it in segments, its central directory first,
		// and extract each entry as soon as its bytes are in.
		var started bool
		x, res, xerr, err, started = r.fetchZipOverlapped(ctx, c, req, dir, xo)
		if started || err != nil {
			return x, res, xerr, err
		}
		fetch = false // fetched whole without overlap (no ranges, or a directory past the tail)
	}
	for try := 0; ; try++ {
		if fetch {
			if res, err = in.client.Fetch(ctx, req); err != nil {
				return nil, res, nil, err
			}
		}
		if req.Size > 0 || try > 0 || zipComplete(req.Partial) {
			break
		}
		// No size was declared, and the zip has no end: most likely a body cut short under a
		// Content-Length to match. Fetch it once more from the start; if the same bytes come
		// back, they are what the server serves, and are judged as such.
		in.logf("%s: the zip is incomplete (%s); fetching it again", c.cacheName, download.Bytes(res.Size))
		download.RemovePartial(req.Partial)
		fetch = true
	}
	f, err := os.Open(req.Partial)
	if err != nil {
		return nil, res, nil, &failure.DiskError{Op: "open", Path: req.Partial, Err: err}
	}
	defer f.Close()
	x, xerr = extractZipFile(ctx, f, res.Size, req.Partial, dir, c, xo, nil)
	return x, res, xerr, nil
}

// zipProgress is what a segmented download has delivered of a zip so far.
type zipProgress struct {
	mu                       sync.Mutex
	cond                     *sync.Cond
	prefix, tailStart, total int64
	done                     bool
}

func newZipProgress() *zipProgress {
	z := &zipProgress{tailStart: -1}
	z.cond = sync.NewCond(&z.mu)
	return z
}

func (z *zipProgress) update(prefix, tailStart, total int64) {
	z.mu.Lock()
	z.prefix, z.total = prefix, total
	if tailStart < total {
		z.tailStart = tailStart
	}
	z.mu.Unlock()
	z.cond.Broadcast()
}

// finish marks the download ended; ok says the whole file is in.
func (z *zipProgress) finish(ok bool) {
	z.mu.Lock()
	z.done = true
	if ok {
		z.prefix = z.total
	}
	z.mu.Unlock()
	z.cond.Broadcast()
}

// waitTail waits for the tail; false when the download ended without one.
func (z *zipProgress) waitTail() (tailStart, total int64, ok bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for z.tailStart < 0 && !z.done {
		z.cond.Wait()
	}
	return z.tailStart, z.total, z.tailStart >= 0
}

// waitPrefix waits until the first end bytes are in; false when the download failed first.
func (z *zipProgress) waitPrefix(end int64) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	for z.prefix < end && !z.done {
		z.cond.Wait()
	}
	return z.prefix >= end
}

// fetchZipOverlapped fetches a module zip and extracts it while it arrives: the central
// directory comes first (Tail), then every entry is extracted once the bytes up to the next
// entry are in. started is false when that could not be done (no ranges, a directory larger
// than the tail), and the caller extracts the whole zip afterwards.
func (r *run) fetchZipOverlapped(ctx context.Context, c *candidate, req download.FetchRequest, dir string, xo archive.Options) (x *archive.Extractor, res download.FetchResult, xerr, err error, started bool) {
	zp := newZipProgress()
	// A toolchain zip's central directory is about 1.2 MB; two segments hold it.
	req.Tail = min(4<<20, 2*r.in.client.Config().SegmentSize)
	req.OnData = zp.update
	type outcome struct {
		x       *archive.Extractor
		started bool
		err     error
	}
	done := make(chan outcome, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		x, started, err := extractZipOverlapped(fctx, c, req.Partial, dir, xo, zp)
		if err != nil {
			cancel() // the zip is refused: stop fetching it
		}
		done <- outcome{x, started, err}
	}()
	res, err = r.in.client.Fetch(fctx, req)
	zp.finish(err == nil)
	out := <-done
	if out.started && out.err != nil && !errors.Is(out.err, archive.ErrAborted) {
		return out.x, res, out.err, nil, true
	}
	if err != nil {
		if out.x != nil {
			out.x.Close()
		}
		return nil, res, nil, err, out.started
	}
	return out.x, res, out.err, nil, out.started
}

// extractZipOverlapped waits for a zip's tail, reads its layout from there, and extracts each
// entry as its bytes arrive.
func extractZipOverlapped(ctx context.Context, c *candidate, partial, dir string, xo archive.Options, zp *zipProgress) (*archive.Extractor, bool, error) {
	tailStart, total, ok := zp.waitTail()
	if !ok {
		return nil, false, nil
	}
	f, err := os.Open(partial)
	if err != nil {
		return nil, false, nil
	}
	defer f.Close()
	ends, cdStart, err := archive.ZipLayout(f, total)
	if err != nil || cdStart < tailStart {
		return nil, false, nil // the directory is not all in the tail yet: extract afterwards
	}
	end := func(f *zip.File) int64 {
		if e, ok := ends[f.Name]; ok {
			return e
		}
		return total
	}
	x, err := extractZipFile(ctx, f, total, partial, dir, c, xo, func(f *zip.File) bool { return zp.waitPrefix(end(f)) })
	return x, true, err
}

// zipComplete reports whether the file ends in a zip's end of central directory.
func zipComplete(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false
	}
	_, err = zip.NewReader(f, st.Size())
	return err == nil
}

// readLocal reads c from a bundle, hashing as it extracts: nothing is copied to the cache.
func (r *run) readLocal(ctx context.Context, c *candidate, dir string, xo archive.Options) (x *archive.Extractor, res download.FetchResult, xerr, err error) {
	defer c.local.Close()
	res = download.FetchResult{Size: c.size}
	h := sha256.New()
	if !c.zip {
		if x, err = archive.New(ctx, dir, xo); err != nil {
			return nil, res, nil, err
		}
		xerr = x.TarGz(io.TeeReader(c.local, h))
		io.Copy(h, c.local) // whatever follows the gzip stream is hashed too
		res.SHA256 = hex.EncodeToString(h.Sum(nil))
		return x, res, xerr, nil
	}
	ra, ok := c.local.(io.ReaderAt)
	if !ok {
		return nil, res, nil, fmt.Errorf("%s: no random access", c.url)
	}
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, c.size)); err != nil {
		return nil, res, nil, &failure.DiskError{Op: "read", Path: c.url, Err: err}
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	x, xerr = extractZipFile(ctx, ra, c.size, "", dir, c, xo, nil)
	return x, res, xerr, nil
}

// badBytes reports whether a failed fetch proved the partial file's bytes wrong (as opposed to
// the network failing, after which the partial file is worth resuming).
func badBytes(err error) bool {
	var re *download.RangeError
	if errors.As(err, &re) {
		return true
	}
	return failure.Classify(err).Verification()
}

// streamTarGz downloads req while extracting it: the bytes go to the cache file, the hash and
// the extractor at once. An unsafe entry stops the download; a malformed stream does not, so
// that the download completes and its digest says whether the bytes were tampered with.
func streamTarGz(ctx context.Context, c *download.Client, req download.FetchRequest, x *archive.Extractor) (download.FetchResult, error, error) {
	p := archive.NewPipe()
	xerrc := make(chan error, 1)
	go func() {
		err := x.TarGz(p)
		var unsafe *archive.UnsafeError
		var disk *failure.DiskError
		if errors.As(err, &unsafe) || errors.As(err, &disk) {
			p.CloseRead(err)
		} else {
			io.Copy(io.Discard, p)
		}
		xerrc <- err
	}()
	req.Sink = p
	res, err := c.Fetch(ctx, req)
	p.CloseWrite(err)
	xerr := <-xerrc
	if err != nil {
		var se *download.SinkError
		if errors.As(err, &se) {
			return res, se.Err, nil
		}
		return res, err, nil
	}
	return res, nil, xerr
}

// extractZipFile extracts a zip: an official Windows archive (prefix go/) or a toolchain module
// zip, which is first checked as a module zip with golang.org/x/mod/zip when it is a file on
// disk (path set).
func extractZipFile(ctx context.Context, ra io.ReaderAt, size int64, path, dir string, c *candidate, xo archive.Options, ready func(*zip.File) bool) (*archive.Extractor, error) {
	if c.ev.Format == verify.ModuleZip && path != "" {
		m := module.Version{Path: verify.ToolchainModule, Version: c.ev.Want.Module}
		if _, err := modzip.CheckZip(m, path); err != nil {
			return nil, &archive.MalformedError{Err: fmt.Errorf("not a valid module zip: %w", err)}
		}
	}
	x, err := archive.New(ctx, dir, xo)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return x, &archive.MalformedError{Err: err}
	}
	return x, x.Zip(zr, ready)
}
