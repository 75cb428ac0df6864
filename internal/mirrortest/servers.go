package mirrortest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
)

// Servers are the fixture's servers on loopback.
type Servers struct {
	F        *Fixture
	Official *httptest.Server
	Mirror   *httptest.Server
	Proxy    *httptest.Server
	SumDB    *httptest.Server
}

// Cleaner is the part of testing.TB (and testscript's Env) that Start needs.
type Cleaner interface{ Cleanup(func()) }

// Start starts the official site, a mirror, a proxy and a direct checksum database.
func Start(c Cleaner, f *Fixture) *Servers {
	s := &Servers{F: f,
		Official: httptest.NewServer(f.OfficialHandler()),
		Mirror:   httptest.NewServer(f.MirrorHandler()),
		Proxy:    httptest.NewServer(f.ProxyHandler()),
		SumDB:    httptest.NewServer(f.SumDBHandler()),
	}
	c.Cleanup(s.Close)
	return s
}

// Close stops the servers.
func (s *Servers) Close() {
	for _, x := range []*httptest.Server{s.Official, s.Mirror, s.Proxy, s.SumDB} {
		x.CloseClientConnections()
		x.Close()
	}
}

// OfficialURL is the official site's base (what --official takes).
func (s *Servers) OfficialURL() string { return s.Official.URL + "/dl/" }

// MirrorURL is the mirror's base (what --mirror takes).
func (s *Servers) MirrorURL() string { return s.Mirror.URL + "/golang/" }

// ProxyURL is the module proxy (a GOPROXY entry).
func (s *Servers) ProxyURL() string { return s.Proxy.URL }

// GOSUMDB points at the database through the proxy (the name and key only).
func (s *Servers) GOSUMDB() string { return s.F.VKey }

// ClosedURL returns an http URL on a loopback port nobody listens on.
func ClosedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

// Flip returns a copy of data with the byte at off inverted.
func Flip(data []byte, off int) []byte {
	out := bytes.Clone(data)
	out[off] ^= 0xff
	return out
}

// Stall serves h but stops sending after n bytes of body and holds the connection open until
// the client gives up (or the server closes).
func Stall(h http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &stallWriter{ResponseWriter: w, left: n, done: r.Context().Done()}
		h.ServeHTTP(sw, r)
	})
}

type stallWriter struct {
	http.ResponseWriter
	left int64
	done <-chan struct{}
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		w.left -= int64(len(p))
		return w.ResponseWriter.Write(p)
	}
	if w.left > 0 {
		w.ResponseWriter.Write(p[:w.left])
		w.left = 0
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case <-w.done:
	case <-time.After(5 * time.Minute):
	}
	return 0, http.ErrHandlerTimeout
}

// Cut serves h, but the first n requests get a body cut after limit bytes (the connection is
// closed mid-body). Bytes counts the body bytes served in all.
type Cut struct {
	H     http.Handler
	N     int32
	Limit int64
	Bytes atomic.Int64
	count atomic.Int32
}

func (c *Cut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &countWriter{ResponseWriter: w, c: c, left: -1}
	if c.count.Add(1) <= c.N {
		cw.left = c.Limit
	}
	c.H.ServeHTTP(cw, r)
	if cw.left == 0 {
		// Abort: the client sees the connection close before Content-Length bytes.
		panic(http.ErrAbortHandler)
	}
}

type countWriter struct {
	http.ResponseWriter
	c    *Cut
	left int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	if w.left >= 0 {
		if int64(len(p)) > w.left {
			p = p[:w.left]
		}
		w.left -= int64(len(p))
	}
	n, err := w.ResponseWriter.Write(p)
	w.c.Bytes.Add(int64(n))
	if err == nil && w.left == 0 {
		return n, http.ErrAbortHandler
	}
	return n, err
}

// Entry is one raw tar entry, for building hostile archives.
type Entry struct {
	Header tar.Header
	Data   []byte
}

// RawTarGz packs entries exactly as given, whatever their names and types.
func RawTarGz(entries []Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.Data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			panic(err)
		}
		if len(e.Data) > 0 {
			tw.Write(e.Data)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// SizeLie returns a tar.gz whose one file's header declares fewer bytes than follow it: a
// reader that trusts the header sees the rest as the next header.
func SizeLie(version string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Write a header claiming 4 bytes, then 600 bytes of data.
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "go/VERSION", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(version) + 1)})
	tw.Write([]byte(version + "\n"))
	tw.WriteHeader(&tar.Header{Name: "go/bin/go", Typeflag: tar.TypeReg, Mode: 0o755, Size: 4})
	tw.Flush()
	// Past the tar writer's accounting: raw bytes where the next header should be.
	zw.Write(bytes.Repeat([]byte("x"), 600))
	zw.Close()
	return buf.Bytes()
}

// TreeDigest is one digest over every path, mode, symlink target and file content under root,
// to check that an install was left byte-for-byte unchanged. An absent root digests to "".
// Files named in skip (base names) are left out.
func TreeDigest(root string, skip ...string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if slices.Contains(skip, d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", filepath.ToSlash(rel), info.Mode())
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		case info.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SilentAfter serves data up to byte at and then nothing, on every request, ranged or not,
// until done: a server that stalls for good at one place, however often it is resumed.
func SilentAfter(data []byte, at int64, done <-chan struct{}) io.ReadSeeker {
	return &silentAfter{Reader: bytes.NewReader(data), at: at, done: done}
}

type silentAfter struct {
	*bytes.Reader
	at   int64
	done <-chan struct{}
}

func (s *silentAfter) Read(p []byte) (int, error) {
	pos := s.Size() - int64(s.Len())
	if pos >= s.at {
		<-s.done
		return 0, io.ErrUnexpectedEOF
	}
	return s.Reader.Read(p[:min(int64(len(p)), s.at-pos)])
}
