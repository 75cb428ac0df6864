package gostrap

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// corruptingRelay forwards TCP connections to a TLS server and, once, flips one byte in the
// middle of the first application-data record that begins after `after` bytes of a
// connection's server-to-client stream: the record layer's integrity check fails on the
// client (bad record MAC) long after the handshake, in the middle of a response body.
type corruptingRelay struct {
	ln      net.Listener
	target  string
	after   int64
	flipped atomic.Int32
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startCorruptingRelay(t *testing.T, target string, after int64) *corruptingRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &corruptingRelay{ln: ln, target: target, after: after, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns[c] = true
			r.mu.Unlock()
			r.wg.Go(func() { r.relay(c) })
		}
	})
	return r
}

func (r *corruptingRelay) relay(client net.Conn) {
	defer func() {
		client.Close()
		r.mu.Lock()
		delete(r.conns, client)
		r.mu.Unlock()
	}()
	server, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	deadline := time.Now().Add(30 * time.Second) // every relay ends
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	go func() {
		io.Copy(server, client)
		server.(*net.TCPConn).CloseWrite()
	}()
	// Server to client, record by record.
	var off int64
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(server, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		body := make([]byte, n)
		if _, err := io.ReadFull(server, body); err != nil {
			return
		}
		const applicationData = 23
		if hdr[0] == applicationData && off >= r.after && n > 64 && r.flipped.CompareAndSwap(0, 1) {
			body[n/2] ^= 0x01
		}
		off += int64(5 + n)
		if _, err := client.Write(append(hdr, body...)); err != nil {
			return
		}
		hdr = make([]byte, 5)
	}
}

// A TLS record corrupted in the middle of the archive's body, long after a clean handshake, is
// a broken transfer, not a broken configuration: the download resumes from the bytes it has,
// one stream or segments alike, the install succeeds having fetched little more than the
// archive once, and the log counts the resume.
func TestTLSRecordErrorMidBodyResumes(t *testing.T) {
	name := mirror.Host().ArchiveName("go1.22.3")
	archive, ok := fixture.Archive(name)
	if !ok {
		t.Fatalf("no %s in the fixture", name)
	}
	for _, tc := range []struct {
		name    string
		segment int64 // 0: one stream
		after   int64 // the byte of a connection's stream after which a record is corrupted
	}{
		{"one stream", 0, int64(len(archive)) / 2},
		{"segments", 64 << 10, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := mirrortest.NewCA("Test Root CA")
			var (
				rangesMu sync.Mutex
				ranges   []string // of the requests for the archive
			)
			official := fixture.OfficialHandler()
			srv := mirrortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+name) {
					rangesMu.Lock()
					ranges = append(ranges, r.Header.Get("Range"))
					rangesMu.Unlock()
				}
				official.ServeHTTP(w, r)
			}), ca.Leaf(mirrortest.LeafOptions{}), nil)
			relay := startCorruptingRelay(t, strings.TrimPrefix(srv.URL, "https://"), tc.after)

			tmp := t.TempDir()
			var log bytes.Buffer
			var logMu sync.Mutex
			dl := download.Config{CAFile: ca.WriteFile(tmp), IdleTimeout: 2 * time.Second,
				RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond, SegmentThreshold: -1}
			if tc.segment > 0 {
				dl.SegmentThreshold, dl.SegmentSize = tc.segment, tc.segment
			}
			in := mustInstaller(t, Options{
				Dir:      filepath.Join(tmp, "go"),
				CacheDir: filepath.Join(tmp, "cache"),
				Official: []string{"https://" + relay.ln.Addr().String() + "/dl/"},
				Mirrors:  []string{"off"},
				GOPROXY:  "off",
				GOSUMDB:  fixture.VKey,
				Sources:  []Kind{KindOfficial},
				Log:      lockedWriter{&logMu, &log},
				Download: dl,
			})
			rep, err := install(t, in, "go1.22.3")
			logMu.Lock()
			lines := log.String()
			logMu.Unlock()
			t.Logf("log:\n%s", lines)
			if err != nil {
				t.Fatalf("install failed: %v", err)
			}
			if relay.flipped.Load() != 1 {
				t.Fatalf("the relay corrupted %d records, want 1", relay.flipped.Load())
			}
			if !strings.Contains(lines, "bad record MAC") || !strings.Contains(lines, "complete after 1 resumes") {
				t.Errorf("the log does not show the record error resumed and counted")
			}
			if limit := int64(len(archive)) * 11 / 10; rep.Bytes > limit || rep.Bytes < int64(len(archive))/2 {
				t.Errorf("fetched %d bytes for a %d-byte archive, want at most %d", rep.Bytes, len(archive), limit)
			}
			if last := rep.Attempts[len(rep.Attempts)-1]; last.Resumes < 1 {
				t.Errorf("the attempt records %d resumes: %+v", last.Resumes, last)
			}
			if rep.Verified == nil || rep.Verified.Method != "sha256" {
				t.Errorf("verified: %+v", rep.Verified)
			}
			if tc.segment > 0 {
				return
			}
			// Resumed, not restarted: the second request for the archive asks for the bytes
			// after those that arrived intact.
			rangesMu.Lock()
			defer rangesMu.Unlock()
			if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
				t.Errorf("requests for the archive with Range %q, want one whole and one resume", ranges)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
