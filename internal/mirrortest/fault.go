package mirrortest

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"
)

// FaultKind is one way a server misbehaves, modelled on apt's fault web server and rustup's
// partial-file tests.
type FaultKind string

const (
	// ResetAfter sends Offset bytes of the body, then resets the connection (TCP RST).
	ResetAfter FaultKind = "reset-after"
	// ShortBody sends Offset bytes under a full Content-Length, then closes.
	ShortBody FaultKind = "short-body"
	// LongLength declares a Content-Length longer than the body and closes after the body.
	LongLength FaultKind = "content-length-long"
	// ShortLength declares a Content-Length Offset bytes long and sends only that much.
	ShortLength FaultKind = "content-length-short"
	// Status503 answers 503 with RetryAfter (if set).
	Status503 FaultKind = "503"
	// Status429 answers 429 with RetryAfter (if set).
	Status429 FaultKind = "429"
	// RedirectLoop redirects to itself.
	RedirectLoop FaultKind = "redirect-loop"
	// RedirectHTTP redirects an https request to the same path over plain http.
	RedirectHTTP FaultKind = "redirect-https-to-http"
	// IgnoreRange answers a Range request with 200 and the whole body.
	IgnoreRange FaultKind = "ignore-range"
	// BadContentRange answers a Range request with 206 and a Content-Range that does not match.
	BadContentRange FaultKind = "bad-content-range"
	// StallAfter sends Offset bytes, then nothing, holding the connection open.
	StallAfter FaultKind = "stall-after"
	// Trickle sends 1 KB a second.
	Trickle FaultKind = "trickle"
	// Forever streams bytes without end and without a Content-Length.
	Forever FaultKind = "forever"
	// GzipUnasked compresses the body with Content-Encoding: gzip nobody asked for.
	GzipUnasked FaultKind = "gzip-unasked"
	// FlipByte inverts the body byte at Offset.
	FlipByte FaultKind = "flip-byte"
)

// Fault configures a FaultServer.
type Fault struct {
	Kind FaultKind
	// Offset is a position in the file, not in one response: a ranged request (a resumed or
	// segmented download) is faulted only when its range holds that byte, at the matching
	// place in its body.
	Offset int64
	// RetryAfter is sent with 503 and 429 ("2", an HTTP date, or something absurd).
	RetryAfter string
	// Times limits the fault to the first Times matching requests; 0 means every one.
	Times int32
}

func (f Fault) String() string {
	s := string(f.Kind)
	if f.Offset != 0 {
		s += "@" + strconv.FormatInt(f.Offset, 10)
	}
	if f.RetryAfter != "" {
		s += " Retry-After: " + f.RetryAfter
	}
	if f.Times > 0 {
		s += fmt.Sprintf(" x%d", f.Times)
	}
	return s
}

// offsetInFile reports whether the fault happens at Offset.
func (k FaultKind) offsetInFile() bool {
	switch k {
	case ResetAfter, ShortBody, ShortLength, StallAfter, FlipByte:
		return true
	}
	return false
}

// take counts one more faulted request, unless Times have been already.
func (s *FaultServer) take() bool {
	for {
		n := s.Faulted.Load()
		if s.Fault.Times > 0 && n >= s.Fault.Times {
			return false
		}
		if s.Faulted.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// hits reports whether r asks for the byte at Offset (every request does for other faults).
func (f Fault) hits(r *http.Request) bool {
	if !f.Kind.offsetInFile() {
		return true
	}
	var lo, hi int64
	rng := r.Header.Get("Range")
	if rng == "" {
		return true
	}
	if n, _ := fmt.Sscanf(rng, "bytes=%d-%d", &lo, &hi); n == 2 {
		return lo <= f.Offset && f.Offset <= hi
	} else if n == 1 {
		return lo <= f.Offset
	}
	return true
}

// FaultServer serves H, misbehaving as Fault says on the requests Match selects.
type FaultServer struct {
	H     http.Handler
	Fault Fault
	// Match selects the requests to fault (nil: all).
	Match func(*http.Request) bool
	// HTTPURL is where RedirectHTTP sends clients (a plain-http server with the same content).
	HTTPURL string

	Faulted atomic.Int32
	Served  atomic.Int64
}

// ServeHTTP implements http.Handler.
func (s *FaultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Match != nil && !s.Match(r) || !s.Fault.hits(r) || !s.take() {
		s.H.ServeHTTP(&CountingWriter{ResponseWriter: w, N: &s.Served}, r)
		return
	}
	f := s.Fault
	switch f.Kind {
	case Status503, Status429:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := http.StatusServiceUnavailable
		if f.Kind == Status429 {
			code = http.StatusTooManyRequests
		}
		http.Error(w, "try later", code)
		return
	case RedirectLoop:
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
		return
	case RedirectHTTP:
		http.Redirect(w, r, s.HTTPURL+r.URL.RequestURI(), http.StatusFound)
		return
	case IgnoreRange:
		r = r.Clone(r.Context())
		r.Header.Del("Range")
		s.H.ServeHTTP(&CountingWriter{ResponseWriter: w, N: &s.Served}, r)
		return
	case Forever:
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := make([]byte, 32<<10)
		rand.Read(buf)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
			s.Served.Add(int64(len(buf)))
		}
		return
	}

	// The remaining faults alter the body the real handler produces.
	rec := httptest.NewRecorder()
	s.H.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	status := rec.Code
	off := min(max(f.Offset, 0), int64(len(body)))
	if f.Kind.offsetInFile() && status == http.StatusPartialContent {
		var start int64
		if _, err := fmt.Sscanf(rec.Header().Get("Content-Range"), "bytes %d-", &start); err == nil {
			off = min(max(f.Offset-start, 0), int64(len(body)))
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	switch f.Kind {
	case FlipByte:
		if off < int64(len(body)) {
			body = bytes.Clone(body)
			body[off] ^= 0xff
		}
	case GzipUnasked:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	case BadContentRange:
		if status == http.StatusPartialContent {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(body)-1, len(body)))
		}
	case LongLength:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+1000))
	case ShortLength:
		w.Header().Set("Content-Length", strconv.FormatInt(off, 10))
		body = body[:off]
	}
	w.WriteHeader(status)
	switch f.Kind {
	case ResetAfter:
		w.Write(body[:off])
		s.Served.Add(off)
		http.NewResponseController(w).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with RST, not FIN
			}
			conn.Close()
		}
		return
	case ShortBody:
		w.Write(body[:off])
		s.Served.Add(off)
		panic(http.ErrAbortHandler)
	case StallAfter:
		w.Write(body[:off])
		s.Served.Add(off)
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
		return
	case Trickle:
		for i := 0; i < len(body); i += 1024 {
			end := min(i+1024, len(body))
			if _, err := w.Write(body[i:end]); err != nil {
				return
			}
			s.Served.Add(int64(end - i))
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Second):
			}
		}
		return
	case LongLength:
		w.Write(body)
		s.Served.Add(int64(len(body)))
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
	s.Served.Add(int64(len(body)))
}

// CountingWriter adds the body bytes written through it to N.
type CountingWriter struct {
	http.ResponseWriter
	N *atomic.Int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.N.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *CountingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
