package download

import (
	"context"
	"encoding/json"
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
//
// The chunks lie on a fixed grid (multiples of the chunk size from the start of the file), and
// which of them have arrived is recorded beside the partial file (segState). A run that is cut,
// killed or interrupted leaves every completed chunk to the next run, not just the contiguous
// prefix: nothing fetched is fetched again.
const (
	segMax = 8 // most connections at once
	// A connection faster than this is not what limits the download: no more are opened.
	segEnough = 48 << 20
	// segSaveEvery is how often the record of arrived chunks is brought up to date while
	// chunks arrive: what a crash can cost.
	segSaveEvery = 500 * time.Millisecond
)

// errNoRanges is a server that does not honour Range: the caller falls back to one stream.
var errNoRanges = errors.New("server does not serve byte ranges")

// segState is the record, beside a partial file filled out of order, of how many bytes of each
// chunk have arrived (from the chunk's start).
type segState struct {
	Size  int64   `json:"size"`
	Chunk int64   `json:"chunk"`
	Got   []int64 `json:"got"`
}

func segStatePath(partial string) string { return partial + ".seg" }

// RemovePartial removes a partial download and the record of its chunks.
func RemovePartial(partial string) {
	os.Remove(partial)
	os.Remove(segStatePath(partial))
}

// loadSegState reads the record beside partial. solid is how many bytes from the start of the
// file can be trusted as contiguous: with a record, its prefix (and st says which later chunks
// arrived, trusting none for more bytes than the file holds); without one, the whole file (a
// one-stream download writes in order). A record that cannot be read trusts nothing.
func loadSegState(partial string, fileSize int64) (st *segState, solid int64) {
	data, err := os.ReadFile(segStatePath(partial))
	if err != nil {
		return nil, fileSize
	}
	var s segState
	if json.Unmarshal(data, &s) != nil {
		// gostrap before 0.2 recorded only the contiguous prefix, as a number.
		if n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil && n >= 0 {
			return nil, min(n, fileSize)
		}
		return nil, 0
	}
	if s.Chunk <= 0 || s.Size <= 0 || int64(len(s.Got)) != (s.Size+s.Chunk-1)/s.Chunk {
		return nil, 0
	}
	for i := range s.Got {
		lo, hi := s.bounds(i)
		s.Got[i] = max(0, min(s.Got[i], hi-lo, fileSize-lo))
	}
	return &s, s.prefix()
}

// bounds is where chunk i begins and ends.
func (s *segState) bounds(i int) (lo, hi int64) {
	lo = int64(i) * s.Chunk
	return lo, min(lo+s.Chunk, s.Size)
}

func (s *segState) complete(i int) bool {
	lo, hi := s.bounds(i)
	return lo+s.Got[i] >= hi
}

// prefix is where the contiguous bytes from the start end.
func (s *segState) prefix() int64 {
	for i, g := range s.Got {
		if lo, hi := s.bounds(i); lo+g < hi {
			return lo + g
		}
	}
	return s.Size
}

// have is every byte that has arrived.
func (s *segState) have() int64 {
	var n int64
	for _, g := range s.Got {
		n += g
	}
	return n
}

type segFetch struct {
	c   *Client
	req FetchRequest
	f   *os.File
	tr  Tracker

	mu   sync.Mutex
	cond *sync.Cond
	// segState is the grid and the bytes received per chunk of it (Got), as saved.
	segState
	order   []int // the order chunks are handed out in (a zip's tail first)
	next    int   // next position in order
	tail    int   // first chunk of the tail asked for first; len(Got) when none
	err     error
	fetched int64
	resumes int
	workers int
	speeds  map[int]float64 // latest bytes/s per worker
	saved   time.Time
}

func (s *segFetch) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// take hands out the next chunk not yet started and not already complete.
func (s *segFetch) take() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.err == nil && s.next < len(s.order) {
		i := s.order[s.next]
		s.next++
		if !s.complete(i) {
			return i, true
		}
	}
	return 0, false
}

// pending is the count of chunks not yet handed out.
func (s *segFetch) pending() int {
	n := 0
	for _, i := range s.order[s.next:] {
		if !s.complete(i) {
			n++
		}
	}
	return n
}

// tailDone reports whether every chunk of the tail has arrived.
func (s *segFetch) tailDone() bool {
	for i := s.tail; i < len(s.Got); i++ {
		if !s.complete(i) {
			return false
		}
	}
	return s.tail < len(s.Got)
}

// save records which chunks have arrived; the caller holds s.mu. A failure to write it costs a
// refetch of those chunks after a crash, nothing more.
func (s *segFetch) save() {
	s.saved = time.Now()
	data, _ := json.Marshal(s.segState)
	tmp := segStatePath(s.req.Partial) + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		os.Rename(tmp, segStatePath(s.req.Partial))
	}
}

// fetchSegmented fetches req from have on over several connections, with pre the chunks an
// earlier run left (nil for none). It returns errNoRanges, having consumed nothing, when the
// server does not serve ranges.
func (c *Client) fetchSegmented(ctx context.Context, req FetchRequest, f *os.File, h hash.Hash, tr Tracker, have, limit int64, pre *segState) (fetched int64, size int64, resumes int, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunk := c.cfg.SegmentSize
	if pre != nil && pre.Chunk > 0 {
		chunk = pre.Chunk // the bytes on disk lie on that grid
	}
	// The first chunk's answer says whether ranges work and how large the file is.
	k0 := int(have / chunk)
	first, err := c.rangeRequest(ctx, req.URL, have, min(int64(k0+1)*chunk, limit)-1)
	if err != nil {
		return 0, 0, 0, err
	}
	start, total, err := parseContentRange(first.Header.Get("Content-Range"))
	switch {
	case first.StatusCode != http.StatusPartialContent:
		err = errNoRanges
	case err != nil:
		err = &RangeError{URL: req.URL, Detail: err.Error()}
	case start != have:
		err = &RangeError{URL: req.URL, Detail: fmt.Sprintf("asked for bytes from %d, Content-Range starts at %d", have, start)}
	case total < 0:
		err = errNoRanges
	case req.Size > 0 && total != req.Size:
		err = &SizeError{URL: req.URL, Declared: req.Size, Actual: total}
	case total > limit:
		err = &TooLargeError{URL: req.URL, Max: limit}
	case pre != nil && pre.Size > 0 && pre.Size != total:
		err = &RangeError{URL: req.URL, Detail: fmt.Sprintf("the file is %d bytes now, %d when the partial download began", total, pre.Size)}
	}
	if err != nil {
		first.Body.Close()
		return 0, 0, 0, err
	}

	SetTotal(tr, total)
	s := &segFetch{c: c, req: req, f: f, tr: tr, speeds: map[int]float64{},
		segState: segState{Size: total, Chunk: chunk, Got: make([]int64, (total+chunk-1)/chunk)}}
	s.cond = sync.NewCond(&s.mu)
	for i := range s.Got {
		lo, hi := s.bounds(i)
		switch {
		case i < k0:
			s.Got[i] = hi - lo
		case i == k0:
			s.Got[i] = have - lo
		case pre != nil && i < len(pre.Got):
			s.Got[i] = pre.Got[i]
		}
	}
	if k0 >= len(s.Got) {
		first.Body.Close()
		return 0, total, 0, nil
	}
	// Chunk k0 is under way; a requested tail goes next, then the rest in order.
	s.tail = len(s.Got)
	if req.Tail > 0 && len(s.Got)-k0 > 2 && total-req.Tail > int64(k0+1)*chunk {
		s.tail = max(k0+1, int((total-req.Tail)/chunk))
	}
	s.order = []int{k0}
	for i := s.tail; i < len(s.Got); i++ {
		s.order = append(s.order, i)
	}
	for i := k0 + 1; i < s.tail; i++ {
		s.order = append(s.order, i)
	}
	s.mu.Lock()
	s.save()
	s.mu.Unlock()

	// Cancellation wakes everyone: the workers' waits, and the consumer on the condition.
	stopWake := context.AfterFunc(ctx, func() { s.fail(context.Cause(ctx)) })
	defer stopWake()

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
	// Worker 0 streams chunk k0 on the response already open, then takes others.
	s.next, s.workers = 1, 1
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.chunkLoop(ctx, 0, k0, first)
		s.work(ctx, 0)
	}()
	s.mu.Lock()
	more := s.pending() > 0 // worker 0 is taking chunks already
	s.mu.Unlock()
	if more {
		spawn()
	}
	// Open more connections while each one is slow: as many as it takes for their sum to
	// reach segEnough, judged by the fastest, up to segMax.
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
			want := s.workers
			if fastest > 0 && fastest < segEnough {
				want = min(segMax, int(segEnough/fastest)+1)
			}
			add := min(want-s.workers, s.pending())
			ok := s.err == nil
			s.mu.Unlock()
			for ; ok && add > 0; add-- {
				spawn()
			}
		}
	}()

	// Consume in order as the contiguous prefix grows.
	pos := have
	bp := getCopyBuf()
	defer copyBufs.Put(bp)
	buf := *bp
	sink := io.Writer(h)
	if req.Sink != nil {
		sink = io.MultiWriter(h, &sinkWriter{req.Sink})
	}
	// tailIn is where the tail begins once all of it has arrived, total until then.
	tailIn := total
	for pos < total {
		s.mu.Lock()
		for s.err == nil && s.prefix() <= pos && (tailIn < total || !s.tailDone()) {
			s.cond.Wait()
		}
		wm, werr, tail := s.prefix(), s.err, s.tailDone()
		if time.Since(s.saved) >= segSaveEvery {
			s.save()
		}
		s.mu.Unlock()
		if wm <= pos && werr != nil {
			err = werr
			break
		}
		if tail && tailIn == total {
			tailIn, _ = s.bounds(s.tail)
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
	}
	close(stopRamp)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	s.mu.Lock()
	fetched, resumes = s.fetched, s.resumes
	if err == nil {
		s.mu.Unlock()
		os.Remove(segStatePath(req.Partial))
		c.cfg.Logf("%s: %d connections", req.Label, s.workers)
		return fetched, total, resumes, nil
	}
	// Keep every chunk that arrived for the next run.
	s.save()
	s.mu.Unlock()
	var se *SinkError
	if errors.As(err, &se) {
		return fetched, total, resumes, se
	}
	return fetched, total, resumes, err
}

// work takes chunks until none are left.
func (s *segFetch) work(ctx context.Context, id int) {
	for {
		i, ok := s.take()
		if !ok {
			return
		}
		s.chunkLoop(ctx, id, i, nil)
	}
}

// chunkLoop fetches chunk i, resuming after a broken body or a stall, on resp when one is open
// already. A failure it cannot get past fails the whole fetch.
func (s *segFetch) chunkLoop(ctx context.Context, id, i int, resp *http.Response) {
	lo, hi := s.bounds(i)
	var tries retries
	speed := s.c.newSpeedCheck(s.req.URL) // across the chunk's resumes
	for {
		s.mu.Lock()
		got, ferr := s.Got[i], s.err
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
		n, err := s.copyChunk(ctx, id, i, lo+got, hi, resp, speed)
		resp.Body.Close()
		resp = nil
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			s.fail(context.Cause(ctx))
			return
		}
		if !tries.again(err, n > 0) {
			s.fail(err)
			return
		}
		s.mu.Lock()
		s.resumes++
		s.mu.Unlock()
		s.c.cfg.Logf("%s: %v; resuming chunk %d from %s", s.req.Label, err, i, Bytes(lo+got+n))
		select {
		case <-ctx.Done():
			s.fail(context.Cause(ctx))
			return
		case <-time.After(s.c.backoff(s.c.cfg.RetryWaitMin, s.c.cfg.RetryWaitMax, tries.failures, nil)):
		}
	}
}

// copyChunk checks a range response and copies its body to [from, hi) of the file.
func (s *segFetch) copyChunk(ctx context.Context, id, i int, from, hi int64, resp *http.Response, speed *speedCheck) (int64, error) {
	if resp.StatusCode != http.StatusPartialContent {
		return 0, statusError(resp)
	}
	start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil || start != from || total != s.Size {
		return 0, &RangeError{URL: s.req.URL, Detail: fmt.Sprintf("asked for bytes %d-%d of %d, got Content-Range %q", from, hi-1, s.Size, resp.Header.Get("Content-Range"))}
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return 0, &RangeError{URL: s.req.URL, Detail: "server applied Content-Encoding " + enc + " that was not asked for"}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := s.c.cfg.IdleTimeout
	timer := time.AfterFunc(idle, func() { cancel(failure.ErrStalled) })
	defer timer.Stop()
	// The response came with ctx: a stall (or ctx's end) ends the read by closing the body.
	stopClose := context.AfterFunc(rctx, func() { resp.Body.Close() })
	defer stopClose()
	body := &idleReader{r: io.LimitReader(resp.Body, hi-from), timer: timer, idle: idle}
	bp := getCopyBuf()
	defer copyBufs.Put(bp)
	buf := *bp
	off := from
	began := time.Now()
	for off < hi {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := s.f.WriteAt(buf[:n], off); werr != nil {
				return off - from, &failure.DiskError{Op: "write", Path: s.f.Name(), Err: werr}
			}
			off += int64(n)
			s.tr.Add(int64(n))
			s.mu.Lock()
			s.Got[i] += int64(n)
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
				return off - from, &TransferError{URL: s.req.URL, Err: io.ErrUnexpectedEOF}
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
