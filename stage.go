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
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// candidate is one way to get the bytes: where from, in what format, and what will vouch.
type candidate struct {
	src       *Source
	url       string
	cacheName string // file name in the download cache
	format    string // "tar.gz", "zip" (official Windows archive) or "modzip" (toolchain module)
	size      int64  // declared by a trusted index; 0 when unknown
	max       int64  // cap when size is unknown
	sha256    string // trusted sha256, or the mirror's own with selfTrusted
	trustedBy string
	// h1 is the checksum-database lookup for the toolchain module, running alongside.
	h1 *h1Lookup
	// treeOnly: the checksum database's record is the only trust (sumdb-tree); files the module
	// leaves out are removed rather than installed unverified.
	treeOnly    bool
	selfTrusted bool
	modVersion  string
	// cached is the record of an earlier verified download this candidate replays offline.
	cached *cacheEntry
	// local is the file in a bundle, opened and its size checked against the manifest; the
	// checksum database's proof in the bundle vouches (sumdb-offline).
	local fs.File
	// manifestSHA256 is the bundle manifest's digest: not a trust root, but a changed file is
	// reported as a tampered bundle rather than only as a hash mismatch.
	manifestSHA256 string
	// offlineProof: the checksum database vouched through a bundle's proof, checked offline.
	offlineProof bool
}

// staged is a verified tree in a staging directory, ready to be renamed into place.
type staged struct {
	dir     string
	meta    Meta
	fetched int64
}

// cacheEntry is written beside a verified download in the cache: what it is and what vouched
// for it, so a later install (or an offline one) can reuse it.
type cacheEntry struct {
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Verified Verified  `json:"verified"`
	Source   SourceRef `json:"source"`
	Time     time.Time `json:"time"`
}

func (in *Installer) dlPath(name string) string {
	return filepath.Join(in.opts.CacheDir, "dl", name)
}

func readCacheEntry(final string) (*cacheEntry, bool) {
	data, err := os.ReadFile(final + ".json")
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Size <= 0 {
		return nil, false
	}
	if st, err := os.Stat(final); err != nil || st.Size() != e.Size {
		return nil, false
	}
	return &e, true
}

// fetchArchive downloads c (or replays it from the cache, or reads it from a bundle), extracts
// it into a staging tree as the bytes arrive, and verifies it. The staging tree is removed on
// any failure; the partial download is kept for a later resume unless its bytes were proven bad.
func (r *run) fetchArchive(ctx context.Context, c *candidate, v string) (st *staged, err error) {
	in := r.in
	dir, err := in.layout.newStaging(v)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()

	var (
		x       *extractor
		res     download.FetchResult
		xerr    error
		partial string // the cache file to keep once verified
	)
	if c.local != nil {
		x, res, xerr, err = r.readLocal(c, dir)
	} else {
		final := in.dlPath(c.cacheName)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return nil, &download.DiskError{Op: "create", Path: filepath.Dir(final), Err: err}
		}
		unlock, lerr := lockedfile.MutexAt(final + ".lock").Lock()
		if lerr != nil {
			return nil, &download.DiskError{Op: "lock", Path: final + ".lock", Err: lerr}
		}
		defer unlock()
		partial = final + ".partial"
		x, res, xerr, err = r.download(ctx, c, final, dir)
	}
	if x != nil {
		defer x.Close()
	}
	if err != nil {
		if badBytes(err) && partial != "" {
			os.Remove(partial)
		}
		return nil, err
	}
	checkpoint("after-download")

	meta, err := r.finishStaging(ctx, c, v, dir, res, x, xerr)
	if err != nil {
		if partial != "" {
			os.Remove(partial)
		}
		return nil, err
	}
	if partial != "" {
		// Keep the verified download for reinstalls and offline use.
		final := strings.TrimSuffix(partial, ".partial")
		if err := download.Keep(partial, final); err == nil {
			e, _ := json.Marshal(cacheEntry{Size: res.Size, SHA256: res.SHA256, Verified: meta.Verified, Source: meta.Source, Time: meta.InstalledAt})
			mirror.WriteFileAtomic(final+".json", e, 0o644)
		}
	}
	return &staged{dir: dir, meta: *meta, fetched: res.Fetched}, nil
}

// download fetches c into the cache (resuming, or replaying an earlier verified download) and
// extracts it into dir.
func (r *run) download(ctx context.Context, c *candidate, final, dir string) (x *extractor, res download.FetchResult, xerr, err error) {
	in := r.in
	req := download.FetchRequest{URL: c.url, Partial: final + ".partial", Size: c.size, Max: c.max, Label: c.cacheName}
	if e, ok := readCacheEntry(final); ok && (c.sha256 == "" || c.sha256 == e.SHA256) && (c.size == 0 || c.size == e.Size) {
		// A verified earlier download: replay it from disk (Fetch finds it complete).
		if err := os.Rename(final, req.Partial); err == nil {
			req.Size = e.Size
			in.logf("using cached %s", c.cacheName)
		}
	}
	if c.format == "tar.gz" {
		if x, err = newExtractor(dir, "go/", releaseMode); err != nil {
			return nil, res, nil, err
		}
		res, err, xerr = streamTarGz(ctx, in.client, req, x)
		return x, res, xerr, err
	}
	fetch := true
	if c.format == "modzip" && c.size == 0 {
		// The zip's size is not declared: fetch it in segments, its central directory first,
		// and extract each entry as soon as its bytes are in.
		var started bool
		x, res, xerr, err, started = r.fetchZipOverlapped(ctx, c, req, dir)
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
		if c.size > 0 || try > 0 || zipComplete(req.Partial) {
			break
		}
		// No size was declared, and the zip has no end: most likely a body cut short under a
		// Content-Length to match. Fetch it once more from the start; if the same bytes come
		// back, they are what the server serves, and are judged as such.
		in.logf("%s: the zip is incomplete (%s); fetching it again", c.cacheName, download.Bytes(res.Size))
		os.Remove(req.Partial)
		fetch = true
	}
	f, err := os.Open(req.Partial)
	if err != nil {
		return nil, res, nil, &download.DiskError{Op: "open", Path: req.Partial, Err: err}
	}
	defer f.Close()
	x, xerr = extractZipFile(f, res.Size, req.Partial, dir, c, nil)
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
func (r *run) fetchZipOverlapped(ctx context.Context, c *candidate, req download.FetchRequest, dir string) (x *extractor, res download.FetchResult, xerr, err error, started bool) {
	zp := newZipProgress()
	// A toolchain zip's central directory is about 1.2 MB; two segments hold it.
	req.Tail = min(4<<20, 2*r.in.client.Config().SegmentSize)
	req.OnData = zp.update
	type outcome struct {
		x       *extractor
		started bool
		err     error
	}
	done := make(chan outcome, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		x, started, err := extractZipOverlapped(c, req.Partial, dir, zp)
		if err != nil {
			cancel() // the zip is refused: stop fetching it
		}
		done <- outcome{x, started, err}
	}()
	res, err = r.in.client.Fetch(fctx, req)
	zp.finish(err == nil)
	out := <-done
	if out.started && out.err != nil && !errors.Is(out.err, errDownloadFailed) {
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
func extractZipOverlapped(c *candidate, partial, dir string, zp *zipProgress) (*extractor, bool, error) {
	tailStart, total, ok := zp.waitTail()
	if !ok {
		return nil, false, nil
	}
	f, err := os.Open(partial)
	if err != nil {
		return nil, false, nil
	}
	defer f.Close()
	ends, cdStart, err := zipLayout(f, total)
	if err != nil || cdStart < tailStart {
		return nil, false, nil // the directory is not all in the tail yet: extract afterwards
	}
	end := func(f *zip.File) int64 {
		if e, ok := ends[f.Name]; ok {
			return e
		}
		return total
	}
	x, err := extractZipFile(f, total, partial, dir, c, func(f *zip.File) bool { return zp.waitPrefix(end(f)) })
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
func (r *run) readLocal(c *candidate, dir string) (x *extractor, res download.FetchResult, xerr, err error) {
	defer c.local.Close()
	res = download.FetchResult{Size: c.size}
	h := sha256.New()
	if c.format == "tar.gz" {
		if x, err = newExtractor(dir, "go/", releaseMode); err != nil {
			return nil, res, nil, err
		}
		xerr = extractTarGz(io.TeeReader(c.local, h), x)
		io.Copy(h, c.local) // whatever follows the gzip stream is hashed too
		res.SHA256 = hex.EncodeToString(h.Sum(nil))
		return x, res, xerr, nil
	}
	ra, ok := c.local.(io.ReaderAt)
	if !ok {
		return nil, res, nil, fmt.Errorf("%s: no random access", c.url)
	}
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, c.size)); err != nil {
		return nil, res, nil, &download.DiskError{Op: "read", Path: c.url, Err: err}
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	x, xerr = extractZipFile(ra, c.size, "", dir, c, nil)
	return x, res, xerr, nil
}

// finishStaging verifies what was extracted into dir, checks its VERSION, removes what nothing
// vouched for, and writes the install's metadata into it.
func (r *run) finishStaging(ctx context.Context, c *candidate, v, dir string, res download.FetchResult, x *extractor, xerr error) (*Meta, error) {
	ver, err := r.verify(ctx, c, v, res, x, xerr)
	if err != nil {
		return nil, err
	}
	if got, err := readVERSION(dir); err != nil || got != v {
		if err != nil {
			return nil, &UnsafeArchiveError{Entry: "go/VERSION", Reason: "missing: " + err.Error()}
		}
		return nil, &UnsafeArchiveError{Entry: "go/VERSION", Reason: fmt.Sprintf("archive holds %s, not %s", got, v)}
	}
	if c.treeOnly {
		// Only the checksum database vouched, and it covers what the module holds: the rest
		// of the release is not installed unverified.
		for _, d := range verify.OmittedDirs() {
			if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
				return nil, &download.DiskError{Op: "remove", Path: filepath.Join(dir, d), Err: err}
			}
		}
	}
	meta := &Meta{Version: v, Platform: r.in.opts.Platform.String(),
		Source: SourceRef{Kind: string(c.src.Kind), URL: download.Redact(c.url)}, Verified: *ver,
		InstalledAt: time.Now().UTC().Truncate(time.Second)}
	data, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, metaFile), append(data, '\n'), 0o644); err != nil {
		return nil, &download.DiskError{Op: "write", Path: filepath.Join(dir, metaFile), Err: err}
	}
	return meta, nil
}

// cachedVersions lists the releases whose verified downloads are in the cache.
func (in *Installer) cachedVersions() []mirror.Version {
	ents, _ := os.ReadDir(in.dlPath(""))
	seen := map[string]bool{}
	var out []mirror.Version
	p := in.opts.Platform
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		v, ok := strings.CutSuffix(name, "."+p.OS+"-"+p.OfficialArch()+p.Ext())
		if !ok {
			if mv, ok2 := strings.CutPrefix(strings.TrimSuffix(name, ".zip"), "golang.org-toolchain@"); ok2 {
				v, ok = p.GoVersionFromToolchain(mv)
			}
		}
		if _, intact := readCacheEntry(in.dlPath(name)); ok && intact && mirror.IsRelease(v) && !seen[v] {
			seen[v] = true
			out = append(out, mirror.Version{Version: v, Stable: mirror.IsStable(v)})
		}
	}
	return out
}

// cachedCandidate replays a verified download of v from the cache.
func (in *Installer) cachedCandidate(s *Source, v string) (*candidate, error) {
	p := in.opts.Platform
	for _, c := range []*candidate{
		{cacheName: p.ArchiveName(v), format: formatOf(p.ArchiveName(v))},
		{cacheName: "golang.org-toolchain@" + p.ToolchainVersion(v) + ".zip", format: "modzip", modVersion: p.ToolchainVersion(v)},
	} {
		e, ok := readCacheEntry(in.dlPath(c.cacheName))
		if !ok {
			continue
		}
		c.src, c.cached, c.size, c.sha256 = s, e, e.Size, e.SHA256
		c.url = "file://" + filepath.ToSlash(in.dlPath(c.cacheName))
		c.trustedBy = fmt.Sprintf("the local cache (verified by %s on %s, from %s)", e.Verified.Method,
			e.Time.Format("2006-01-02"), e.Source.URL)
		return c, nil
	}
	return nil, &mirror.NotFoundError{Spec: mirror.Spec{Kind: mirror.Exact, Version: v + " in the download cache"}}
}

// badBytes reports whether a failed fetch proved the partial file's bytes wrong (as opposed to
// the network failing, after which the partial file is worth resuming).
func badBytes(err error) bool {
	var re *download.RangeError
	if errors.As(err, &re) {
		return true
	}
	return download.Classify(err).Verification()
}

// streamTarGz downloads req while extracting it: the bytes go to the cache file, the hash and
// the extractor at once. An unsafe entry stops the download; a malformed stream does not, so
// that the download completes and its digest says whether the bytes were tampered with.
func streamTarGz(ctx context.Context, c *download.Client, req download.FetchRequest, x *extractor) (download.FetchResult, error, error) {
	p := newBufPipe()
	xerrc := make(chan error, 1)
	go func() {
		err := extractTarGz(p, x)
		var unsafe *UnsafeArchiveError
		var disk *download.DiskError
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

// extractZipFile extracts a zip: the official Windows archive (prefix go/) or a toolchain module
// zip, which is first checked as a module zip with golang.org/x/mod/zip when it is a file on disk
// (path set).
func extractZipFile(ra io.ReaderAt, size int64, path, dir string, c *candidate, ready func(*zip.File) bool) (*extractor, error) {
	prefix, mode := "go/", releaseMode
	if c.format == "modzip" {
		m := module.Version{Path: mirror.ToolchainModule, Version: c.modVersion}
		if path != "" {
			if _, err := modzip.CheckZip(m, path); err != nil {
				return nil, &MalformedArchiveError{fmt.Errorf("not a valid module zip: %w", err)}
			}
		}
		prefix, mode = m.Path+"@"+m.Version+"/", toolchainMode
	}
	x, err := newExtractor(dir, prefix, mode)
	if err != nil {
		return nil, err
	}
	if c.format == "modzip" {
		x.rename = verify.ReleaseName
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return x, &MalformedArchiveError{err}
	}
	return x, extractZip(zr, x, ready)
}

// verify checks what was downloaded and extracted against the candidate's trust, strongest
// first, and returns what held.
func (r *run) verify(ctx context.Context, c *candidate, v string, res download.FetchResult, x *extractor, xerr error) (*Verified, error) {
	ver := &Verified{TrustedBy: c.trustedBy}
	var methods []string
	if c.sha256 != "" {
		if err := verify.SHA256(c.cacheName, c.sha256, res.SHA256, c.trustedBy); err != nil {
			return nil, err
		}
		ver.SHA256 = "sha256:" + res.SHA256
		ver.Digest = ver.SHA256
		if c.selfTrusted {
			methods = append(methods, verify.MethodMirrorSelf)
		} else {
			methods = append(methods, verify.MethodSHA256)
		}
	}
	if c.manifestSHA256 != "" && c.manifestSHA256 != res.SHA256 {
		return nil, &offline.TamperedError{Path: c.src.URL, Reason: fmt.Sprintf("%s has sha256 %s, the manifest says %s", c.cacheName, res.SHA256, c.manifestSHA256)}
	}
	if c.cached != nil {
		// Offline from the cache: the sha256 recorded when the download was verified vouches.
		if xerr != nil {
			return nil, xerr
		}
		v := c.cached.Verified
		v.TrustedBy = c.trustedBy
		return &v, nil
	}
	if xerr != nil {
		if c.format == "modzip" || c.treeOnly {
			return nil, &verify.SecurityError{Detail: fmt.Sprintf("verifying %s: the download cannot match the checksum database: %v", c.cacheName, xerr)}
		}
		return nil, xerr
	}

	switch {
	case c.format == "modzip":
		h1, err := c.h1.wait(ctx)
		if err != nil {
			return nil, err
		}
		got, err := x.hashes.H1Prefixed(mirror.ToolchainModule + "@" + c.modVersion + "/")
		if err != nil {
			return nil, err
		}
		if err := checkH1(c.modVersion, got, h1); err != nil {
			return nil, err
		}
		ver.H1, ver.Digest = got, got
		if c.offlineProof {
			methods = append(methods, verify.MethodSumDBOffline)
		} else {
			methods = append(methods, verify.MethodSumDB)
			ver.TrustedBy = "the checksum database " + h1.db
		}
	case c.treeOnly || !c.selfTrusted:
		// The tree hash: the only trust for a mirror with no index, a second one otherwise,
		// recorded when the checksum database answers in time.
		h1, err := c.h1.waitBriefly(ctx, c.treeOnly)
		if err != nil {
			if c.treeOnly {
				return nil, err
			}
			var se *verify.SecurityError
			if errors.As(err, &se) {
				r.in.logf("warning: the checksum database misbehaved; %s is verified by its official sha256 alone:\n%v", c.cacheName, err)
			}
			break
		}
		modVersion := r.in.opts.Platform.ToolchainVersion(v)
		got, err := x.hashes.ToolchainH1(modVersion)
		if err != nil {
			return nil, err
		}
		if err := checkH1(modVersion, got, h1); err != nil {
			return nil, err
		}
		ver.H1 = got
		if ver.Digest == "" {
			ver.Digest = got
		}
		if c.offlineProof {
			methods = append(methods, verify.MethodSumDBOffline)
		} else {
			methods = append(methods, verify.MethodSumDBTree)
		}
	}
	if len(methods) == 0 {
		return nil, &UntrustedError{File: c.cacheName, Why: errors.New("no digest was checked")}
	}
	ver.Method = verify.Combine(methods...)
	return ver, nil
}

func checkH1(modVersion, got string, logged h1Result) error {
	if got == logged.h1 {
		return nil
	}
	return &verify.SecurityError{Detail: fmt.Sprintf("verifying %s@%s: checksum mismatch\n\tdownloaded: %s\n\t%s: %s\n\n"+
		"This download does NOT match the one reported by the checksum server.\n"+
		"The bits may have been replaced on the origin server, or an attacker may\n"+
		"have intercepted the download attempt.", mirror.ToolchainModule, modVersion, got, logged.db, logged.h1)}
}

// waitBriefly waits for the lookup: fully when it is the only trust, otherwise only a moment
// past the download, since it only adds a second proof.
func (l *h1Lookup) waitBriefly(ctx context.Context, required bool) (h1Result, error) {
	if required {
		return l.wait(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return l.wait(ctx)
}

// tryProxy installs v from the golang.org/toolchain module through a GOPROXY list, trusting
// only the checksum database.
func (r *run) tryProxy(ctx context.Context, s *Source, v string, start time.Time) (*staged, error) {
	modVersion := r.in.opts.Platform.ToolchainVersion(v)
	c := &candidate{src: s, format: "modzip", max: mirror.MaxZipFile, modVersion: modVersion,
		cacheName: "golang.org-toolchain@" + modVersion + ".zip", h1: r.lookupH1(ctx, v)}
	var st *staged
	err := s.proxies.Try(func(base string) error {
		tp := mirror.ToolchainProxy{Base: base}
		c.url = tp.ZipURL(modVersion)
		if err := tp.Info(ctx, r.in.client, modVersion); err != nil {
			return err
		}
		var err error
		st, err = r.fetchArchive(ctx, c, v)
		return err
	})
	if err != nil {
		url := c.url
		if url == "" {
			url = s.URL
		}
		r.fail(s, url, stageOf(err), start, err)
		return nil, err
	}
	r.succeed(s, c.url, start)
	return st, nil
}

// proxyVersions lists the Go versions a GOPROXY source offers for the platform.
func (r *run) proxyVersions(ctx context.Context, s *Source) ([]mirror.Version, error) {
	if r.dead[s] {
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
		return nil, err
	}
	return vs, nil
}
