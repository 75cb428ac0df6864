package download_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
)

func TestMain(m *testing.M) {
	os.Setenv(download.TestNetworkEnv, "loopback")
	os.Exit(m.Run())
}

func blob(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func client(t *testing.T, cfg download.Config) *download.Client {
	t.Helper()
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin = 5 * time.Millisecond
		cfg.RetryWaitMax = 20 * time.Millisecond
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Second
	}
	c, err := download.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serve(data []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	})
}

// A download cut at 60% is resumed with Range: the bytes served in all stay under 1.2x the
// file, and the result is whole.
func TestFetchResumesCutDownload(t *testing.T) {
	data := blob(4 << 20)
	cut := &mirrortest.Cut{H: serve(data), N: 1, Limit: int64(len(data)) * 6 / 10}
	srv := httptest.NewServer(cut)
	defer srv.Close()
	partial := filepath.Join(t.TempDir(), "f.partial")
	res, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: partial, Size: int64(len(data)), Label: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != hexsum(data) {
		t.Fatal("digest differs")
	}
	got, _ := os.ReadFile(partial)
	if !bytes.Equal(got, data) {
		t.Fatal("file differs")
	}
	ratio := float64(cut.Bytes.Load()) / float64(len(data))
	t.Logf("served %d bytes for a %d-byte file: %.3fx", cut.Bytes.Load(), len(data), ratio)
	if ratio >= 1.2 {
		t.Fatalf("served %.2fx the file", ratio)
	}
}

// An interrupted run leaves a partial file; the next run resumes from it.
func TestFetchResumesAcrossRuns(t *testing.T) {
	data := blob(1 << 20)
	partial := filepath.Join(t.TempDir(), "f.partial")
	os.WriteFile(partial, data[:600_000], 0o644)
	var ranged atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranged.Store(r.Header.Get("Range"))
		serve(data).ServeHTTP(w, r)
	}))
	defer srv.Close()
	res, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: partial, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if ranged.Load() != "bytes=600000-" || res.Resumed != 600_000 || res.Fetched != int64(len(data))-600_000 {
		t.Fatalf("range %q resumed %d fetched %d", ranged.Load(), res.Resumed, res.Fetched)
	}
	if res.SHA256 != hexsum(data) {
		t.Fatal("digest differs")
	}
}

// A server that ignores Range gets its prefix checked against the partial file, not appended.
func TestFetchServerIgnoresRange(t *testing.T) {
	data := blob(300_000)
	full := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	for _, tc := range []struct {
		name    string
		partial []byte
		wantErr bool
	}{
		{"same content", data[:100_000], false},
		{"different content", blob(100_000), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(full)
			defer srv.Close()
			partial := filepath.Join(t.TempDir(), "f.partial")
			os.WriteFile(partial, tc.partial, 0o644)
			res, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
				URL: srv.URL, Partial: partial, Size: int64(len(data))})
			if tc.wantErr {
				var re *download.RangeError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want RangeError", err)
				}
				return
			}
			if err != nil || res.SHA256 != hexsum(data) {
				t.Fatalf("err %v, digest ok %v", err, res.SHA256 == hexsum(data))
			}
		})
	}
}

func TestFetchWrongContentRange(t *testing.T) {
	data := blob(10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data)
	}))
	defer srv.Close()
	partial := filepath.Join(t.TempDir(), "f.partial")
	os.WriteFile(partial, data[:5000], 0o644)
	_, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: partial, Size: int64(len(data))})
	var re *download.RangeError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "Content-Range starts at 0") {
		t.Fatalf("err = %v", err)
	}
}

// A stall is a cut: a body that stops is resumed from the file, and the fetch completes. A
// server that stays silent (after its headers, or without sending any) is given up after
// twice the idle timeout, classified stalled.
func TestFetchStall(t *testing.T) {
	data := blob(200_000)
	// Every response stops after 50,000 bytes: each resume brings 50,000 more.
	srv := httptest.NewServer(mirrortest.Stall(serve(data), 50_000))
	defer srv.Close()
	res, err := client(t, download.Config{IdleTimeout: 300 * time.Millisecond}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data))})
	if err != nil || res.SHA256 != hexsum(data) || res.Fetched != int64(len(data)) {
		t.Fatalf("stalls resumed: %v, fetched %d of %d", err, res.Fetched, len(data))
	}
	srv.CloseClientConnections()

	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"silent after headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "200000")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
		{"no headers", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				tc.h(w, r)
			}))
			defer srv.Close()
			const idle = 300 * time.Millisecond
			start := time.Now()
			_, err := client(t, download.Config{IdleTimeout: idle, SegmentThreshold: -1}).Fetch(context.Background(), download.FetchRequest{
				URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data))})
			took := time.Since(start)
			if failure.Classify(err) != failure.Stalled {
				t.Fatalf("class %q: %v", failure.Classify(err), err)
			}
			t.Logf("given up after %v and %d requests (idle timeout %v): %v", took.Round(time.Millisecond), requests.Load(), idle, err)
			if took > 4*idle || requests.Load() != 2 {
				t.Fatalf("took %v, %d requests", took, requests.Load())
			}
			srv.CloseClientConnections()
		})
	}
}

// More bytes than the index declares: refused as not the published file.
func TestFetchCapsAtDeclaredSize(t *testing.T) {
	data := blob(10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data) // no Content-Length: chunked, longer than declared
		w.(http.Flusher).Flush()
		w.Write(data)
	}))
	defer srv.Close()
	_, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data))})
	if failure.Classify(err) != failure.ChecksumMismatch {
		t.Fatalf("class %q: %v", failure.Classify(err), err)
	}
}

func TestFetchRefusesUnaskedEncoding(t *testing.T) {
	data := blob(10_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(data)
		zw.Close()
	}))
	defer srv.Close()
	_, err := client(t, download.Config{}).Fetch(context.Background(), download.FetchRequest{
		URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data))})
	if err == nil || !strings.Contains(err.Error(), "Content-Encoding gzip") {
		t.Fatalf("err = %v", err)
	}
}

// statusServer answers with the given statuses in turn, then 200 with data.
func statusServer(data []byte, statuses []int, header http.Header) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(statuses) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(statuses[i])
			return
		}
		w.Write(data)
	})), &n
}

func TestRetryPolicy(t *testing.T) {
	data := []byte("index")
	for _, tc := range []struct {
		name     string
		statuses []int
		header   http.Header
		requests int32
		class    failure.Class
	}{
		{"5xx retried", []int{500, 502}, nil, 3, ""},
		{"408 retried", []int{408}, nil, 2, ""},
		{"429 retried", []int{429}, http.Header{"Retry-After": {"0"}}, 2, ""},
		{"404 not retried", []int{404}, nil, 1, failure.NotFound},
		{"403 not retried", []int{403}, nil, 1, failure.HTTPStatus},
		{"501 not retried", []int{501}, nil, 1, failure.HTTPStatus},
		{"Retry-After over the cap gives up", []int{429}, http.Header{"Retry-After": {"3600"}}, 1, failure.HTTPStatus},
		{"HTTP-date over the cap gives up", []int{503}, http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, 1, failure.HTTPStatus},
		{"retries run out", []int{500, 500, 500, 500, 500}, nil, 4, failure.HTTPStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := statusServer(data, tc.statuses, tc.header)
			defer srv.Close()
			start := time.Now()
			got, err := client(t, download.Config{RetryMax: 3}).Get(context.Background(), srv.URL, 1<<10)
			if n.Load() != tc.requests {
				t.Errorf("%d requests, want %d", n.Load(), tc.requests)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tc.class == "" {
				if err != nil || string(got) != "index" {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if c := failure.Classify(err); c != tc.class {
				t.Fatalf("class %q, want %q: %v", c, tc.class, err)
			}
			if tc.class == failure.NotFound && !errors.Is(err, fs.ErrNotExist) {
				t.Error("404 does not match fs.ErrNotExist")
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv, n := statusServer([]byte("ok"), []int{503}, http.Header{"Retry-After": {"1"}})
	defer srv.Close()
	start := time.Now()
	got, err := client(t, download.Config{}).Get(context.Background(), srv.URL, 10)
	took := time.Since(start)
	if err != nil || string(got) != "ok" || n.Load() != 2 {
		t.Fatalf("%q %v after %d requests", got, err, n.Load())
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Fatalf("waited %v for Retry-After: 1", took)
	}
}

// Certificate failures are never retried.
func TestNoRetryOnCertificateError(t *testing.T) {
	var handshakes atomic.Int32
	ca := mirrortest.NewCA("Untrusted Test CA")
	srv := mirrortest.TLSServer(t, serve([]byte("x")), ca.Leaf(mirrortest.LeafOptions{}), &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { handshakes.Add(1); return nil, nil },
	})
	_, err := client(t, download.Config{RetryMax: 3}).Get(context.Background(), srv.URL, 10)
	if c := failure.Classify(err); c != failure.TLSUnknownAuthority {
		t.Fatalf("class %q: %v", c, err)
	}
	if handshakes.Load() != 1 {
		t.Fatalf("%d handshakes, want 1", handshakes.Load())
	}
}

// --ca-file adds a CA; --resolve pins a name to loopback so the certificate's name matches.
func TestCAFileAndResolve(t *testing.T) {
	ca := mirrortest.NewCA("Corp Test CA")
	srv := mirrortest.TLSServer(t, serve([]byte("hello")), ca.Leaf(mirrortest.LeafOptions{Hosts: []string{"dl.corp.test"}}), nil)
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	u := "https://dl.corp.test:" + port + "/"
	_, err := client(t, download.Config{}).Get(context.Background(), u, 10)
	if c := failure.Classify(err); c != failure.DNS {
		t.Fatalf("without --resolve: class %q: %v", c, err)
	}
	_, err = client(t, download.Config{Resolve: []string{"dl.corp.test:" + port + ":127.0.0.1"}}).Get(context.Background(), u, 10)
	if c := failure.Classify(err); c != failure.TLSUnknownAuthority {
		t.Fatalf("without --ca-file: class %q: %v", c, err)
	}
	got, err := client(t, download.Config{Resolve: []string{"dl.corp.test:" + port + ":127.0.0.1"},
		CAFile: ca.WriteFile(t.TempDir())}).Get(context.Background(), u, 10)
	if err != nil || string(got) != "hello" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestRedirectToHTTPRefused(t *testing.T) {
	plain := httptest.NewServer(serve([]byte("x")))
	defer plain.Close()
	ca := mirrortest.NewCA("CA")
	tlsSrv := mirrortest.TLSServer(t, http.RedirectHandler(plain.URL, http.StatusFound), ca.Leaf(mirrortest.LeafOptions{}), nil)
	_, err := client(t, download.Config{CAFile: ca.WriteFile(t.TempDir())}).Get(context.Background(), tlsSrv.URL, 10)
	var re *download.RedirectError
	if !errors.As(err, &re) || failure.Classify(err) != failure.TLSPlaintext {
		t.Fatalf("err = %v (class %q)", err, failure.Classify(err))
	}
}

func TestGetCap(t *testing.T) {
	srv := httptest.NewServer(serve(blob(2000)))
	defer srv.Close()
	if _, err := client(t, download.Config{}).Get(context.Background(), srv.URL, 1000); err == nil {
		t.Fatal("no error for a body over the cap")
	}
}

// paced serves data with each connection capped at rate bytes a second.
func paced(data []byte, rate int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &pacedWriter{w: w, rate: rate, start: time.Now()}
		http.ServeContent(pw, r, "f", time.Time{}, bytes.NewReader(data))
	})
}

type pacedWriter struct {
	w     http.ResponseWriter
	rate  int64
	sent  int64
	start time.Time
}

func (p *pacedWriter) Header() http.Header { return p.w.Header() }
func (p *pacedWriter) WriteHeader(c int)   { p.w.WriteHeader(c) }
func (p *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 32<<10)
		m, err := p.w.Write(b[:k])
		n += m
		p.sent += int64(m)
		if err != nil {
			return n, err
		}
		b = b[k:]
		if d := time.Until(p.start.Add(time.Duration(float64(p.sent) / float64(p.rate) * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
	}
	return n, nil
}

// Where each connection is capped, a segmented fetch is faster than one stream, and the bytes
// come out whole and in order.
func TestSegmentedFetch(t *testing.T) {
	data := blob(6 << 20)
	srv := httptest.NewServer(paced(data, 2<<20))
	defer srv.Close()
	timeFetch := func(threshold int64) time.Duration {
		var sink bytes.Buffer
		start := time.Now()
		res, err := client(t, download.Config{SegmentThreshold: threshold, SegmentSize: 512 << 10}).Fetch(context.Background(),
			download.FetchRequest{URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data)), Sink: &sink})
		if err != nil {
			t.Fatal(err)
		}
		if res.SHA256 != hexsum(data) || !bytes.Equal(sink.Bytes(), data) || res.Fetched != int64(len(data)) {
			t.Fatalf("threshold %d: digest ok %v, sink ok %v, fetched %d", threshold, res.SHA256 == hexsum(data), bytes.Equal(sink.Bytes(), data), res.Fetched)
		}
		return time.Since(start)
	}
	one := timeFetch(-1)
	seg := timeFetch(1 << 20)
	t.Logf("6 MiB at 2 MiB/s per connection: one stream %v, segmented %v (%.1fx)", one.Round(time.Millisecond), seg.Round(time.Millisecond), one.Seconds()/seg.Seconds())
	if seg >= one {
		t.Errorf("segmented (%v) not faster than one stream (%v)", seg, one)
	}
}

// A segmented fetch that dies midway leaves its contiguous prefix (recorded beside it) to resume
// from; a server that ignores Range gets one stream.
func TestSegmentedResumeAndNoRanges(t *testing.T) {
	data := blob(4 << 20)
	dir := t.TempDir()
	partial := filepath.Join(dir, "p")
	// A crashed segmented fetch: bytes written out of order, the state file says 1 MiB is solid.
	f, _ := os.Create(partial)
	f.WriteAt(data[:1<<20], 0)
	f.WriteAt(make([]byte, 100), 3<<20) // garbage beyond the solid prefix
	f.Close()
	os.WriteFile(partial+".seg", []byte("1048576"), 0o644)
	srv := httptest.NewServer(serve(data))
	defer srv.Close()
	cfg := download.Config{SegmentThreshold: 1 << 20, SegmentSize: 256 << 10}
	res, err := client(t, cfg).Fetch(context.Background(), download.FetchRequest{URL: srv.URL, Partial: partial, Size: int64(len(data))})
	if err != nil || res.SHA256 != hexsum(data) || res.Resumed != 1<<20 {
		t.Fatalf("resume: %v, resumed %d", err, res.Resumed)
	}
	if _, err := os.Stat(partial + ".seg"); !os.IsNotExist(err) {
		t.Error("state file left")
	}
	noRange := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer noRange.Close()
	res, err = client(t, cfg).Fetch(context.Background(), download.FetchRequest{URL: noRange.URL, Partial: filepath.Join(dir, "q"), Size: int64(len(data))})
	if err != nil || res.SHA256 != hexsum(data) {
		t.Fatalf("no ranges: %v", err)
	}
}

// With Tail set, the file's last bytes are fetched right after the first chunk, and OnData
// says so before the prefix reaches them; the bytes still come out whole and in order.
func TestSegmentedTailFirst(t *testing.T) {
	data := blob(4 << 20)
	const seg, tail = 256 << 10, 512 << 10
	total := int64(len(data))
	// The server holds every chunk between the first and the tail until both tail chunks have
	// been asked for. Asked for in order, the tail comes at once; asked for later, it never
	// comes while the connections wait, and the hold gives up. Arrival order alone would
	// depend on how the goroutines happen to be scheduled.
	var mu sync.Mutex
	tailAsked := 0
	asked := make(chan struct{})
	var late []int64
	h := serve(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lo int64
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &lo)
		mu.Lock()
		if lo >= total-tail {
			if tailAsked++; tailAsked == 2 {
				close(asked)
			}
		}
		hold := lo > 0 && lo < total-tail && len(late) == 0
		mu.Unlock()
		if hold {
			select {
			case <-asked:
			case <-time.After(5 * time.Second):
				mu.Lock()
				late = append(late, lo)
				mu.Unlock()
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var sink bytes.Buffer
	var tailSeen, prefixAtTail, lastPrefix int64 = -1, -1, -1
	req := download.FetchRequest{URL: srv.URL, Partial: filepath.Join(t.TempDir(), "p"), Max: 8 << 20, Sink: &sink, Tail: tail,
		OnData: func(prefix, tailStart, tot int64) {
			if tot != total || prefix < lastPrefix {
				t.Errorf("OnData(%d, %d, %d) after prefix %d", prefix, tailStart, tot, lastPrefix)
			}
			lastPrefix = prefix
			if tailStart < tot && tailSeen < 0 {
				tailSeen, prefixAtTail = tailStart, prefix
			}
		}}
	res, err := client(t, download.Config{SegmentThreshold: 1 << 20, SegmentSize: seg}).Fetch(context.Background(), req)
	if err != nil || res.SHA256 != hexsum(data) || !bytes.Equal(sink.Bytes(), data) {
		t.Fatalf("fetch: %v, digest ok %v", err, res.SHA256 == hexsum(data))
	}
	if tailSeen != total-tail || prefixAtTail >= tailSeen || lastPrefix != total {
		t.Fatalf("tail reported at %d with prefix %d (want %d, before it); last prefix %d", tailSeen, prefixAtTail, total-tail, lastPrefix)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(late) > 0 || tailAsked != 2 {
		t.Fatalf("chunks from %v were asked for before the tail (tail requests: %d)", late, tailAsked)
	}
}

// A body that keeps delivering, but below MinSpeed, is given up as stalled, on one stream and
// in segments alike: the idle timeout alone would let it hold the source for hours.
func TestTooSlowIsStalled(t *testing.T) {
	data := blob(2 << 20)
	srv := httptest.NewServer(paced(data, 64<<10)) // 32 KiB every half second
	defer srv.Close()
	for _, threshold := range []int64{-1, 256 << 10} {
		cfg := download.Config{IdleTimeout: 5 * time.Second, MinSpeed: 256 << 10, SpeedWindow: 600 * time.Millisecond,
			SegmentThreshold: threshold, SegmentSize: 256 << 10, RetryMax: -1}
		start := time.Now()
		_, err := client(t, cfg).Fetch(context.Background(), download.FetchRequest{URL: srv.URL,
			Partial: filepath.Join(t.TempDir(), "p"), Size: int64(len(data))})
		if !errors.Is(err, download.ErrTooSlow) || failure.Classify(err) != failure.Stalled {
			t.Fatalf("threshold %d: %v, want a too-slow stall", threshold, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("threshold %d: gave up after %v", threshold, took)
		}
	}
}

// An interrupted segmented fetch returns at once and keeps every chunk that arrived, not just
// the contiguous prefix: the next run fetches only what is missing. Cut at several points, the
// bytes served over both runs stay within 1.05 times the file.
func TestSegmentedInterruptKeepsEveryChunk(t *testing.T) {
	data := blob(8 << 20)
	for _, after := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 700 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				paced(data, 1<<20).ServeHTTP(&mirrortest.CountingWriter{ResponseWriter: w, N: &served}, r)
			}))
			defer srv.Close()
			partial := filepath.Join(t.TempDir(), "p")
			cfg := download.Config{SegmentThreshold: 1 << 20, SegmentSize: 256 << 10}
			req := download.FetchRequest{URL: srv.URL, Partial: partial, Size: int64(len(data))}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(after, cancel)
			start := time.Now()
			_, err := client(t, cfg).Fetch(ctx, req)
			returned := time.Since(start) - after
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted fetch: %v", err)
			}
			if returned > time.Second {
				t.Fatalf("returned %v after the cancel", returned)
			}
			first := served.Load()
			res, err := client(t, cfg).Fetch(context.Background(), req)
			if err != nil || res.SHA256 != hexsum(data) {
				t.Fatalf("resumed fetch: %v", err)
			}
			ratio := float64(served.Load()) / float64(len(data))
			t.Logf("cancelled after %v (returned %v later, %.1f MiB in): the next run resumed %.1f MiB and fetched %.1f MiB; %.3fx the file in all",
				after, returned.Round(time.Millisecond), float64(first)/(1<<20), float64(res.Resumed)/(1<<20), float64(res.Fetched)/(1<<20), ratio)
			if ratio > 1.05 {
				t.Fatalf("served %.3fx the file", ratio)
			}
		})
	}
}
