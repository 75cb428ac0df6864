package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
)

// Get fetches a small document (an index, a version list, a checksum-database tile) whole,
// with retries, refusing a body longer than max bytes. A transfer that breaks off is tried
// again, a stalled one once.
func (c *Client) Get(ctx context.Context, rawURL string, max int64) ([]byte, error) {
	var tries retries
	for {
		body, err := c.getOnce(ctx, rawURL, max)
		if err == nil || ctx.Err() != nil || !tries.again(err, false) {
			return body, err
		}
	}
}

func (c *Client) getOnce(ctx context.Context, rawURL string, max int64) ([]byte, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(rctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	if resp.ContentLength > max {
		return nil, &TooLargeError{URL: rawURL, Max: max}
	}
	idle := c.cfg.IdleTimeout
	timer := time.AfterFunc(idle, func() { cancel(failure.ErrStalled) })
	defer timer.Stop()
	r := &io.LimitedReader{R: resp.Body, N: max + 1}
	body, err := io.ReadAll(&idleReader{r: r, timer: timer, idle: idle})
	if err != nil {
		return nil, bodyErr(rctx, rawURL, err)
	}
	if r.N <= 0 {
		return nil, &TooLargeError{URL: rawURL, Max: max}
	}
	return body, nil
}

// Head checks that rawURL answers, returning its declared size (-1 when not declared).
func (c *Client) Head(ctx context.Context, rawURL string) (int64, error) {
	resp, err := c.do(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp)
	}
	return resp.ContentLength, nil
}

// FetchRequest describes one large download into the cache.
type FetchRequest struct {
	URL string
	// Partial is the file the bytes go to. Bytes already in it are kept and the transfer resumes
	// after them (an interrupted earlier run, or another source that failed mid-way). The caller
	// renames it into place after verification, or removes it.
	Partial string
	// Size is the size a trusted index declares, 0 when unknown. The body is capped at it.
	Size int64
	// Max caps the body when Size is unknown.
	Max int64
	// Sink, when set, receives every byte in order, those replayed from Partial first: the
	// streaming extractor reads from it while the download runs.
	Sink io.Writer
	// Label names the transfer in progress output.
	Label string
	// Tail asks a segmented fetch to get the file's last Tail bytes early (a zip's central
	// directory), and OnData, called as bytes land, reports the contiguous prefix received and
	// where the received tail begins (total until it has). Work on a file can then begin
	// before it is whole.
	Tail   int64
	OnData func(prefix, tailStart, total int64)
}

// FetchResult is what a completed fetch produced.
type FetchResult struct {
	Size    int64  // bytes in the file
	SHA256  string // lower-case hex of the whole file
	Fetched int64  // bytes that crossed the network in this call
	Resumed int64  // bytes that were already in the partial file
	// Resumes counts the transfers that broke off (a cut, a reset, a TLS record error after the
	// handshake, a stall) and were resumed from the bytes already received.
	Resumes int
}

// Fetch downloads req.URL into req.Partial, resuming from what is already there with a Range
// request, reconnecting after a broken body, hashing as the bytes arrive.
func (c *Client) Fetch(ctx context.Context, req FetchRequest) (res FetchResult, err error) {
	limit := req.Size
	if limit <= 0 {
		limit = req.Max
	}
	if limit <= 0 {
		return res, fmt.Errorf("fetch %s: no size limit", failure.Redact(req.URL))
	}
	f, err := os.OpenFile(req.Partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, &failure.DiskError{Op: "open", Path: req.Partial, Err: err}
	}
	defer func() {
		empty := false
		if st, serr := f.Stat(); serr == nil && st.Size() == 0 {
			empty = true
		}
		f.Close()
		if err != nil && empty {
			// Nothing to resume from: leave no empty file behind.
			os.Remove(req.Partial)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return res, &failure.DiskError{Op: "stat", Path: req.Partial, Err: err}
	}
	pre, have := loadSegState(req.Partial, st.Size())
	if pre == nil && have < st.Size() {
		// Bytes past the solid prefix that nothing records: not to be trusted.
		if err := f.Truncate(have); err != nil {
			return res, &failure.DiskError{Op: "truncate", Path: req.Partial, Err: err}
		}
	}
	if pre == nil {
		os.Remove(segStatePath(req.Partial))
	}
	if have > limit || pre != nil && req.Size > 0 && pre.Size != req.Size {
		if err := f.Truncate(0); err != nil {
			return res, &failure.DiskError{Op: "truncate", Path: req.Partial, Err: err}
		}
		os.Remove(segStatePath(req.Partial))
		pre, have = nil, 0
	}

	h := sha256.New()
	if have > 0 {
		if err := replay(f, have, h, req.Sink); err != nil {
			return res, err
		}
	}
	here := have
	if pre != nil {
		here = pre.have()
	}
	switch {
	case req.Size > 0 && here >= req.Size:
	case pre != nil && here > have:
		c.cfg.Logf("%s: %s of %s already here from an earlier run; fetching the rest", req.Label, Bytes(here), Bytes(pre.Size))
	case have > 0:
		c.cfg.Logf("%s: %s already here from an earlier run; fetching the rest", req.Label, Bytes(have))
	}
	res.Resumed = here

	var tr Tracker = nopTracker{}
	if c.cfg.Progress != nil {
		tr = c.cfg.Progress.Start(req.Label, req.Size, here)
	}
	defer tr.Finish()

	if t := c.cfg.SegmentThreshold; t > 0 && (pre != nil || req.Size <= 0 || req.Size-have >= t) && (req.Size <= 0 || have < req.Size) {
		n, size, resumes, err := c.fetchSegmented(ctx, req, f, h, tr, have, limit, pre)
		res.Fetched += n
		res.Resumes += resumes
		if err == nil {
			res.Size = size
			res.SHA256 = hex.EncodeToString(h.Sum(nil))
			c.logResumes(req, res)
			return res, nil
		}
		if !errors.Is(err, errNoRanges) {
			return res, err
		}
		// One stream, from where we are: the chunks past it will be written over in order.
		os.Remove(segStatePath(req.Partial))
	}

	st8 := &stream{c: c, req: req, f: f, h: h, tr: tr, limit: limit, have: have, speed: c.newSpeedCheck(req.URL)}
	var tries retries
	for req.Size <= 0 || st8.have < req.Size {
		before := st8.have
		done, err := st8.once(ctx)
		res.Fetched += st8.have - before
		if err == nil && done {
			break
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		if !tries.again(err, st8.have > before) {
			return res, err
		}
		res.Resumes++
		wait := c.backoff(c.cfg.RetryWaitMin, c.cfg.RetryWaitMax, tries.failures, nil)
		c.cfg.Logf("%s: %v; resuming from %s in %s", req.Label, err, Bytes(st8.have), wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return res, context.Cause(ctx)
		case <-time.After(wait):
		}
	}
	res.Size = st8.have
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	c.logResumes(req, res)
	return res, nil
}

// logResumes says how often a completed transfer was resumed, and what it cost.
func (c *Client) logResumes(req FetchRequest, res FetchResult) {
	if res.Resumes > 0 {
		c.cfg.Logf("%s: complete after %d resumes (%s fetched for %s)", req.Label, res.Resumes, Bytes(res.Fetched), Bytes(res.Size-res.Resumed))
	}
}

// replay feeds the first n bytes of f to h and sink.
func replay(f *os.File, n int64, h hash.Hash, sink io.Writer) error {
	w := io.Writer(h)
	if sink != nil {
		w = io.MultiWriter(h, &sinkWriter{sink})
	}
	bp := getCopyBuf()
	defer copyBufs.Put(bp)
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, n), *bp); err != nil {
		var se *SinkError
		if errors.As(err, &se) {
			return se
		}
		return &failure.DiskError{Op: "read", Path: f.Name(), Err: err}
	}
	return nil
}

// copyBufs hold the bytes between a read and a write: one per connection, and the one that
// feeds the hash and the sink. Pooled, so that a segmented fetch (a buffer for each 4 MiB
// chunk) leaves no garbage; 128 KiB, because bytes held here are bytes the extractor cannot
// use yet (peak RSS, issue 12).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

const copyBufSize = 128 << 10

func getCopyBuf() *[]byte { return copyBufs.Get().(*[]byte) }

type sinkWriter struct{ w io.Writer }

func (s *sinkWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, &SinkError{err}
	}
	return n, nil
}

// stream is one fetch in progress: the file, the hash and how far they have got.
type stream struct {
	c       *Client
	req     FetchRequest
	f       *os.File
	h       hash.Hash
	tr      Tracker
	limit   int64
	have    int64
	noRange bool // the server answered a Range request with 416: ask for the whole body
	// speed spans the resumes: a trickle broken by stalls is still a trickle.
	speed *speedCheck
}

// once makes one request and copies its body, reporting whether the file is complete.
func (s *stream) once(ctx context.Context) (done bool, err error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	header := http.Header{}
	if s.have > 0 && !s.noRange {
		header.Set("Range", fmt.Sprintf("bytes=%d-", s.have))
	}
	resp, err := s.c.do(rctx, http.MethodGet, s.req.URL, header)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()

	skip := int64(0) // bytes at the start of the body we already have
	switch resp.StatusCode {
	case http.StatusOK:
		skip = s.have
	case http.StatusPartialContent:
		start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return false, &RangeError{URL: s.req.URL, Detail: err.Error()}
		}
		if start != s.have {
			return false, &RangeError{URL: s.req.URL, Detail: fmt.Sprintf("asked for bytes from %d, Content-Range starts at %d", s.have, start)}
		}
		if total >= 0 && s.req.Size > 0 && total != s.req.Size {
			return false, &SizeError{URL: s.req.URL, Declared: s.req.Size, Actual: total}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// "bytes */N" states the file's size: one other than the declared is not the file.
		if total, ok := unsatisfiedTotal(resp); ok && s.req.Size > 0 && total != s.req.Size {
			return false, &SizeError{URL: s.req.URL, Declared: s.req.Size, Actual: total}
		}
		if s.have > 0 && !s.noRange {
			s.noRange = true
			return false, errRangeRefused
		}
		return false, statusError(resp)
	default:
		return false, statusError(resp)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		// The bytes must be hashed as published; a body re-encoded in transit is not them.
		return false, &RangeError{URL: s.req.URL, Detail: "server applied Content-Encoding " + enc + " that was not asked for"}
	}
	if s.req.Size <= 0 && resp.ContentLength >= 0 && resp.ContentLength-skip > s.limit-s.have {
		// With no declared size, a body announced over the cap is refused before it is read.
		// With one, the bytes are counted as they come: a wrong Content-Length is a server's
		// slip, and the body may still be the published file.
		return false, &TooLargeError{URL: s.req.URL, Max: s.limit}
	}

	idle := s.c.cfg.IdleTimeout
	timer := time.AfterFunc(idle, func() { cancel(failure.ErrStalled) })
	defer timer.Stop()
	body := &idleReader{r: resp.Body, timer: timer, idle: idle}

	if skip > 0 {
		// The server ignored Range: rather than append a whole body after the partial one,
		// check that its start is what we have, and continue after it.
		if err := s.matchPrefix(rctx, body, skip); err != nil {
			return false, err
		}
	}

	bp := getCopyBuf()
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if err := s.speed.add(n); err != nil {
			return false, err
		}
		if n > 0 {
			if s.have+int64(n) > s.limit {
				if s.req.Size > 0 {
					return false, &SizeError{URL: s.req.URL, Declared: s.req.Size, Actual: -1}
				}
				return false, &TooLargeError{URL: s.req.URL, Max: s.limit}
			}
			if err := s.write(buf[:n]); err != nil {
				return false, err
			}
		}
		if rerr == io.EOF {
			if s.req.Size > 0 && s.have < s.req.Size {
				return false, &TransferError{URL: s.req.URL, Err: io.ErrUnexpectedEOF}
			}
			return true, nil
		}
		if rerr != nil {
			return false, bodyErr(rctx, s.req.URL, rerr)
		}
	}
}

func (s *stream) write(p []byte) error {
	if _, err := s.f.WriteAt(p, s.have); err != nil {
		return &failure.DiskError{Op: "write", Path: s.f.Name(), Err: err}
	}
	s.h.Write(p)
	s.have += int64(len(p))
	s.tr.Add(int64(len(p)))
	if s.req.Sink != nil {
		if _, err := s.req.Sink.Write(p); err != nil {
			return &SinkError{err}
		}
	}
	return nil
}

// matchPrefix reads n bytes of body and checks them against the start of the partial file.
func (s *stream) matchPrefix(ctx context.Context, body io.Reader, n int64) error {
	got := make([]byte, 64<<10)
	want := make([]byte, 64<<10)
	for off := int64(0); off < n; {
		k := int(min(int64(len(got)), n-off))
		if _, err := io.ReadFull(body, got[:k]); err != nil {
			return bodyErr(ctx, s.req.URL, err)
		}
		if _, err := s.f.ReadAt(want[:k], off); err != nil {
			return &failure.DiskError{Op: "read", Path: s.f.Name(), Err: err}
		}
		if !bytes.Equal(got[:k], want[:k]) {
			return &RangeError{URL: s.req.URL, Detail: "server ignored Range and sent different content than the partial download"}
		}
		off += int64(k)
	}
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*", reported as -1).
func parseContentRange(v string) (start, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	a, b, ok2 := strings.Cut(rng, "-")
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	total = -1
	if tot != "*" {
		total, err = strconv.ParseInt(tot, 10, 64)
		if err != nil || total <= end {
			return 0, 0, fmt.Errorf("bad Content-Range %q", v)
		}
	}
	return start, total, nil
}

// ErrTooSlow is a transfer slower than the minimum speed: a trickle is treated as a stall.
var ErrTooSlow = fmt.Errorf("transfer too slow (%w)", failure.ErrStalled)

// speedCheck fails a body that delivers less than MinSpeed over each SpeedWindow.
type speedCheck struct {
	url    string
	min    int64
	window time.Duration
	start  time.Time
	bytes  int64
}

func (c *Client) newSpeedCheck(url string) *speedCheck {
	return &speedCheck{url: url, min: c.cfg.MinSpeed, window: c.cfg.SpeedWindow, start: time.Now()}
}

// add counts n bytes just read.
func (w *speedCheck) add(n int) error {
	w.bytes += int64(n)
	el := time.Since(w.start)
	if el < w.window {
		return nil
	}
	if rate := float64(w.bytes) / el.Seconds(); w.min > 0 && rate < float64(w.min) {
		return fmt.Errorf("%s: %w: %s/s over %s", failure.Redact(w.url), ErrTooSlow, Bytes(int64(rate)), el.Round(time.Second))
	}
	w.start, w.bytes = time.Now(), 0
	return nil
}

// idleReader resets the stall timer whenever bytes arrive.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}

// TransferError is a body that broke off after its headers arrived: cut, reset, corrupted in
// transit (a TLS record error), or silent for the idle timeout. It is resumed from the file.
type TransferError struct {
	URL string
	Err error
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("%s: transfer broke off: %v", failure.Redact(e.URL), e.Err)
}
func (e *TransferError) Unwrap() error { return e.Err }

// bodyErr reports a failed body read, naming a stall as a stall rather than a cancellation.
func bodyErr(ctx context.Context, url string, err error) error {
	if errors.Is(context.Cause(ctx), failure.ErrStalled) {
		return &TransferError{URL: url, Err: failure.ErrStalled}
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return &TransferError{URL: url, Err: err}
}

// maxResumes bounds how often one transfer reconnects in a row without receiving a byte, and
// maxStalls how often in a row it finds the server silent: a server that accepts and then says
// nothing is given up after twice the idle timeout, and the next source resumes from the file.
const (
	maxResumes = 8
	maxStalls  = 2
)

// retries decides whether a broken transfer is resumed.
type retries struct{ failures, stalls int }

// again counts a failure (progressed: bytes arrived before it) and reports whether to resume.
func (r *retries) again(err error, progressed bool) bool {
	if !resumable(err) {
		return false
	}
	if progressed {
		r.failures, r.stalls = 0, 0
	} else {
		r.failures++
		if errors.Is(err, failure.ErrStalled) {
			r.stalls++
		}
	}
	return r.failures < maxResumes && r.stalls < maxStalls
}

// resumable reports whether a transfer may reconnect and continue after err: a body that broke
// off (cut, reset, a TLS record error after the handshake, silence for the idle timeout) is a
// transport fault; a refused request, a wrong answer, a handshake that failed, a trickle, the
// disk or the extractor is not.
func resumable(err error) bool {
	if errors.Is(err, errRangeRefused) {
		return true
	}
	if errors.Is(err, ErrTooSlow) {
		return false
	}
	var te *TransferError
	return errors.As(err, &te)
}

// errRangeRefused is a 416 to a resume request: the next request asks for the whole body.
var errRangeRefused = errors.New("416 to a resume request; fetching the whole body")

// unsatisfiedTotal reads the size a 416 response states ("Content-Range: bytes */N").
func unsatisfiedTotal(resp *http.Response) (int64, bool) {
	rest, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}
