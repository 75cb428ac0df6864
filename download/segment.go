package download

import (
	"context"
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

// Segmented downloads: a large file is fetched as chunks over several connections at once,
// each chunk written in place and resumed on its own, while the bytes are consumed (hashed and
// handed to the sink) strictly in order as the contiguous prefix grows. Where each connection is
// throttled (a distant CDN, per-connection shaping) this multiplies the speed; where it is not,
// the count stays at two and little changes.
const (
	segMax = 8 // most connections at once
	// A connection faster than this is not what limits the download: no more are opened.
	segEnough = 48 << 20
)

// errNoRanges is a server that does not honour Range: the caller falls back to one stream.
var errNoRanges = errors.New("server does not serve byte ranges")

// segState records, beside a partial file being filled out of order, how much of it is
// contiguous from the start: after a crash, only that much is resumed from.
func segState(partial string) string { return partial + ".seg" }

func readSegState(partial string) (int64, bool) {
	data, err := os.ReadFile(segState(partial))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil && n >= 0
}

type segFetch struct {
	c         *Client
	req       FetchRequest
	f         *os.File
	tr        Tracker
	size      int64
	start     int64 // where the chunks begin (the resumed prefix ends here)
	chunkSize int64

	mu      sync.Mutex
	cond    *sync.Cond
	got     []int64 // bytes received per chunk
	order   []int   // the order chunks are handed out in (a zip's tail first)
	next    int     // next position in order
	tail    int     // first chunk of the tail asked for first; len(got) when none
	err     error
	fetched int64
	workers int
	speeds  map[int]float64 // latest bytes/s per worker
}

func (s *segFetch) chunkBounds(i int) (int64, int64) {
	lo := s.start + int64(i)*s.chunkSize
	return lo, min(lo+s.chunkSize, s.size)
}

func (s *segFetch) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// watermark is the end of the contiguous prefix received.
func (s *segFetch) watermark() int64 {
	for i, g := range s.got {
		lo, hi := s.chunkBounds(i)
		if lo+g < hi {
			return lo + g
		}
	}
	return s.size
}

// take hands out the next chunk not yet started.
func (s *segFetch) take() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.next >= len(s.order) {
		return 0, false
	}
	s.next++
	return s.order[s.next-1], true
}

// tailDone reports whether every chunk of the tail has arrived.
func (s *segFetch) tailDone() bool {
	for i := s.tail; i < len(s.got); i++ {
		lo, hi := s.chunkBounds(i)
		if lo+s.got[i] < hi {
			return false
		}
	}
	return s.tail < len(s.got)
}

// fetchSegmented fetches req from have on over several connections. It returns errNoRanges,
// having consumed nothing, when the server does not serve ranges.
func (c *Client) fetchSegmented(ctx context.Context, req FetchRequest, f *os.File, h hash.Hash, tr Tracker, have, limit int64) (fetched int64, size int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The first chunk's answer says whether ranges work and how large the file is.
	chunkSize := c.cfg.SegmentSize
	first, err := c.rangeRequest(ctx, req.URL, have, min(have+chunkSize, limit)-1)
	if err != nil {
		return 0, 0, err
	}
	if first.StatusCode != http.StatusPartialContent {
		first.Body.Close()
		return 0, 0, errNoRanges
	}
	start, total, err := parseContentRange(first.Header.Get("Content-Range"))
	switch {
	case err != nil:
		first.Body.Close()
		return 0, 0, &RangeError{URL: req.URL, Detail: err.Error()}
	case start != have:
		first.Body.Close()
		return 0, 0, &RangeError{URL: req.URL, Detail: fmt.Sprintf("asked for bytes from %d, Content-Range starts at %d", have, start)}
	case total < 0:
		first.Body.Close()
		return 0, 0, errNoRanges
	case req.Size > 0 && total != req.Size:
		first.Body.Close()
		return 0, 0, &SizeError{URL: req.URL, Declared: req.Size, Actual: total}
	case total > limit:
		first.Body.Close()
		return 0, 0, &TooLargeError{URL: req.URL, Max: limit}
	}

	SetTotal(tr, total)
	s := &segFetch{c: c, req: req, f: f, tr: tr, size: total, start: have, chunkSize: chunkSize, speeds: map[int]float64{}}
	s.cond = sync.NewCond(&s.mu)
	s.got = make([]int64, (total-have+chunkSize-1)/chunkSize)
	// Chunk 0 is under way; a requested tail goes next, then the rest in order.
	s.tail = len(s.got)
	if req.Tail > 0 && len(s.got) > 2 && total-req.Tail > have+chunkSize {
		s.tail = max(1, int((total-req.Tail-have)/chunkSize))
	}
	s.order = []int{0}
	for i := s.tail; i < len(s.got); i++ {
		s.order = append(s.order, i)
	}
	for i := 1; i < s.tail; i++ {
		s.order = append(s.order, i)
	}
	if len(s.got) == 0 {
		first.Body.Close()
		return 0, total, nil
	}
	if err := os.WriteFile(segState(req.Partial), []byte(strconv.FormatInt(have, 10)), 0o644); err != nil {
		first.Body.Close()
		return 0, 0, &failure.DiskError{Op: "write", Path: segState(req.Partial), Err: err}
	}

	var wg sync.WaitGroup
	spawn := func() {
		s.mu.Lock()
		id := s.workers
		s.workers++
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, id)
		}()
	}
	// Worker 0 streams the first chunk on the response already open, then takes others.
	s.next, s.workers = 1, 1
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.chunk(ctx, 0, 0, first)
		s.work(ctx, 0)
	}()
	if len(s.got) > 1 {
		spawn()
	}
	// Open more connections while each one is slow: at the first measurement, as many as it
	// takes for their sum to reach segEnough, up to segMax.
	stopRamp := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopRamp:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s.mu.Lock()
			fastest := 0.0
			for _, v := range s.speeds {
				fastest = max(fastest, v)
			}
			// Enough connections for their sum to reach segEnough, judged by the fastest one.
			want := s.workers
			if fastest > 0 && fastest < segEnough {
				want = min(segMax, int(segEnough/fastest)+1)
			}
			add := min(want-s.workers, len(s.order)-s.next)
			ok := s.err == nil
			s.mu.Unlock()
			for ; ok && add > 0; add-- {
				spawn()
			}
		}
	}()

	// Consume in order as the contiguous prefix grows.
	pos := have
	buf := make([]byte, 256<<10)
	lastSaved := pos
	sink := io.Writer(h)
	if req.Sink != nil {
		sink = io.MultiWriter(h, &sinkWriter{req.Sink})
	}
	// tailIn is where the tail begins once all of it has arrived, total until then.
	tailIn := total
	for pos < total {
		s.mu.Lock()
		for s.err == nil && s.watermark() <= pos && (tailIn < total || !s.tailDone()) {
			s.cond.Wait()
		}
		wm, werr, tail := s.watermark(), s.err, s.tailDone()
		s.mu.Unlock()
		if wm <= pos && werr != nil {
			err = werr
			break
		}
		if tail && tailIn == total {
			tailIn, _ = s.chunkBounds(s.tail)
			if req.OnData != nil {
				req.OnData(pos, tailIn, total)
			}
		}
		for pos < wm {
			n := int(min(int64(len(buf)), wm-pos))
			if _, rerr := f.ReadAt(buf[:n], pos); rerr != nil {
				err = &failure.DiskError{Op: "read", Path: f.Name(), Err: rerr}
				break
			}
			if _, werr := sink.Write(buf[:n]); werr != nil {
				err = werr
				break
			}
			pos += int64(n)
		}
		if err != nil {
			break
		}
		if req.OnData != nil {
			req.OnData(pos, tailIn, total)
		}
		if pos-lastSaved >= 16<<20 {
			os.WriteFile(segState(req.Partial), []byte(strconv.FormatInt(pos, 10)), 0o644)
			lastSaved = pos
		}
	}
	close(stopRamp)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	s.mu.Lock()
	fetched = s.fetched
	s.mu.Unlock()
	if err == nil {
		os.Remove(segState(req.Partial))
		c.cfg.Logf("%s: %d connections", req.Label, s.workers)
		return fetched, total, nil
	}
	// Keep only the contiguous prefix, so that a later run resumes from solid ground.
	if terr := f.Truncate(pos); terr == nil {
		os.Remove(segState(req.Partial))
	}
	var se *SinkError
	if errors.As(err, &se) {
		return fetched, total, se
	}
	return fetched, total, err
}

// work takes chunks until none are left.
func (s *segFetch) work(ctx context.Context, id int) {
	for {
		i, ok := s.take()
		if !ok {
			return
		}
		s.chunk(ctx, id, i, nil)
	}
}

// chunk fetches chunk i, resuming after a broken body, on resp when one is open already.
func (s *segFetch) chunk(ctx context.Context, id, i int, resp *http.Response) {
	lo, hi := s.chunkBounds(i)
	failures := 0
	for {
		s.mu.Lock()
		got, ferr := s.got[i], s.err
		s.mu.Unlock()
		if ferr != nil || lo+got >= hi {
			if resp != nil {
				resp.Body.Close()
			}
			return
		}
		if resp == nil {
			var err error
			resp, err = s.c.rangeRequest(ctx, s.req.URL, lo+got, hi-1)
			if err != nil {
				s.fail(err)
				return
			}
		}
		n, err := s.copyChunk(ctx, id, i, lo+got, hi, resp)
		resp.Body.Close()
		resp = nil
		if err == nil {
			continue
		}
		if !resumable(err) || ctx.Err() != nil {
			s.fail(err)
			return
		}
		if n == 0 {
			failures++
		} else {
			failures = 0
		}
		if failures >= maxResumes {
			s.fail(err)
			return
		}
		wait := s.c.backoff(s.c.cfg.RetryWaitMin, s.c.cfg.RetryWaitMax, failures, nil)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// copyChunk checks a range response and copies its body to [from, hi) of the file.
func (s *segFetch) copyChunk(ctx context.Context, id, i int, from, hi int64, resp *http.Response) (int64, error) {
	if resp.StatusCode != http.StatusPartialContent {
		return 0, statusError(resp)
	}
	start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil || start != from || total != s.size {
		return 0, &RangeError{URL: s.req.URL, Detail: fmt.Sprintf("asked for bytes %d-%d of %d, got Content-Range %q", from, hi-1, s.size, resp.Header.Get("Content-Range"))}
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return 0, &RangeError{URL: s.req.URL, Detail: "server applied Content-Encoding " + enc + " that was not asked for"}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := s.c.cfg.IdleTimeout
	timer := time.AfterFunc(idle, func() { cancel(failure.ErrStalled); resp.Body.Close() })
	defer timer.Stop()
	body := &idleReader{r: io.LimitReader(resp.Body, hi-from), timer: timer, idle: idle}
	buf := make([]byte, 256<<10)
	off := from
	began := time.Now()
	speed := s.c.newSpeedCheck(s.req.URL)
	for off < hi {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := s.f.WriteAt(buf[:n], off); werr != nil {
				return off - from, &failure.DiskError{Op: "write", Path: s.f.Name(), Err: werr}
			}
			off += int64(n)
			s.tr.Add(int64(n))
			s.mu.Lock()
			s.got[i] += int64(n)
			s.fetched += int64(n)
			if el := time.Since(began).Seconds(); el > 0.05 {
				s.speeds[id] = float64(off-from) / el
			}
			s.mu.Unlock()
			s.cond.Broadcast()
		}
		if err := speed.add(n); err != nil {
			return off - from, err
		}
		if rerr == io.EOF {
			if off < hi {
				return off - from, io.ErrUnexpectedEOF
			}
			break
		}
		if rerr != nil {
			return off - from, bodyErr(rctx, s.req.URL, rerr)
		}
	}
	return off - from, nil
}

// rangeRequest asks for bytes lo..hi (inclusive).
func (c *Client) rangeRequest(ctx context.Context, url string, lo, hi int64) (*http.Response, error) {
	h := http.Header{}
	h.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, hi))
	return c.do(ctx, http.MethodGet, url, h)
}
