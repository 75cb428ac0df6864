package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/verify"
)

// release is a tree shaped like a Go release, smaller: many small files of source-like text and
// a few binaries of several MiB, sizes around the writer pool's chunk included.
func release(small int) map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("func return if err != nil package import type struct interface for range go defer chan select case default map string int byte error")
	var b bytes.Buffer
	for b.Len() < 6<<20 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n\t"[r.IntN(3)])
	}
	text := func(n int) []byte {
		off := r.IntN(b.Len() - n + 1)
		return b.Bytes()[off : off+n]
	}
	t := map[string][]byte{}
	for i := range small {
		t[fmt.Sprintf("src/pkg%d/file%d.go", i%97, i)] = text(r.IntN(16 << 10))
	}
	for i, n := range []int{0, 1, bufMax - 1, bufMax, bufMax + 1, 3*bufMax + 5, 5 << 20} {
		t[fmt.Sprintf("pkg/tool/bin%d", i)] = text(n)
	}
	return t
}

func releaseTarGz(t testing.TB, tree map[string][]byte) []byte {
	var entries []mirrortest.Entry
	for _, n := range sortedKeys(tree) {
		entries = append(entries, mirrortest.Entry{Header: tar.Header{Name: "go/" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(tree[n]))}, Data: tree[n]})
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.Header); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.Data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func releaseZip(t testing.TB, tree map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range sortedKeys(tree) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "go/" + n, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(tree[n])
	}
	zw.Close()
	return buf.Bytes()
}

// sortedKeys returns the names sorted, so that a directory's files come together as in a
// release.
func sortedKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}

func unpacked(tree map[string][]byte) (n int64) {
	for _, d := range tree {
		n += int64(len(d))
	}
	return n
}

func extractTarGz(t testing.TB, ctx context.Context, dir string, data io.Reader) (*Extractor, error) {
	x, err := New(ctx, dir, Options{Prefix: "go/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x, x.TarGz(data)
}

func extractZip(t testing.TB, dir string, data []byte) (*Extractor, error) {
	x, err := New(context.Background(), dir, Options{Prefix: "go/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return x, x.Zip(zr, nil)
}

// Every file arrives whole, whichever way it went to its writer (whole, or streamed in
// chunks), and its hash is of what was written.
func TestExtractedFilesAndHashes(t *testing.T) {
	tree := release(300)
	want := &verify.Hashes{}
	for n, d := range tree {
		sum := sha256.Sum256(d)
		want.Add(n, sum[:])
	}
	wantH1, _ := want.H1()
	for _, kind := range []string{"tar.gz", "zip"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			var x *Extractor
			var err error
			if kind == "zip" {
				x, err = extractZip(t, dir, releaseZip(t, tree))
			} else {
				x, err = extractTarGz(t, context.Background(), dir, bytes.NewReader(releaseTarGz(t, tree)))
			}
			if err != nil {
				t.Fatal(err)
			}
			for n, d := range tree {
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
				if err != nil || !bytes.Equal(got, d) {
					t.Fatalf("%s: %d bytes written of %d (%v)", n, len(got), len(d), err)
				}
			}
			if h1, _ := x.Hashes().H1(); h1 != wantH1 {
				t.Fatalf("h1 %s, want %s", h1, wantH1)
			}
		})
	}
}

// A stream that ends inside a file streamed in chunks is malformed, and the extraction returns
// rather than waiting on the writer for bytes that will not come.
func TestTruncatedInLargeFile(t *testing.T) {
	tree := map[string][]byte{"VERSION": []byte("go1.99\n"), "pkg/tool/big": bytes.Repeat([]byte("0123456789abcdef"), 4*bufMax/16)}
	data := releaseTarGz(t, tree)
	var plain bytes.Buffer
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	io.Copy(&plain, zr)
	cut := plain.Bytes()[:plain.Len()/2] // inside the big file's bytes
	done := make(chan error, 1)
	go func() {
		x, err := New(context.Background(), t.TempDir(), Options{Prefix: "go/"})
		if err != nil {
			done <- err
			return
		}
		defer x.Close()
		done <- x.tar(bytes.NewReader(cut))
	}()
	select {
	case err := <-done:
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Fatalf("got %v, want a MalformedError", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the extraction hung on a stream cut inside a large file")
	}
}

// Cancellation stops an extraction in the middle of a large file, and no writer is left
// waiting.
func TestCanceledInLargeFile(t *testing.T) {
	tree := map[string][]byte{"pkg/tool/big": bytes.Repeat([]byte("0123456789abcdef"), 8*bufMax/16)}
	var plain bytes.Buffer
	zr, _ := gzip.NewReader(bytes.NewReader(releaseTarGz(t, tree)))
	io.Copy(&plain, zr)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped by the test")
	r := &cancelAfter{r: bytes.NewReader(plain.Bytes()), n: int64(plain.Len() / 2), cancel: func() { cancel(stop) }}
	x, err := New(ctx, t.TempDir(), Options{Prefix: "go/"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.tar(r); !errors.Is(err, stop) {
		t.Fatalf("got %v, want the cancellation's cause", err)
	}
}

type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= int64(n); c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// heapAllocs is the count of bytes allocated on the heap so far, by the whole process.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// An extraction reuses its buffers: the bytes it allocates are a small part of the bytes it
// writes. Allocating each file afresh, or a deflate reader per zip entry, made the garbage
// collector run every few milliseconds on 2 cores and the RSS follow the heap goal up
// (issue 12). Allocation counts are not timings: they do not depend on the machine's load.
func TestExtractionReusesBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops buffers at random; the plain run counts")
	}
	tree := release(3000)
	size := unpacked(tree)
	tgz, zipData := releaseTarGz(t, tree), releaseZip(t, tree)
	for _, kind := range []string{"tar.gz", "zip"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			runtime.GC()
			before := heapAllocs()
			var err error
			if kind == "zip" {
				_, err = extractZip(t, dir, zipData)
			} else {
				_, err = extractTarGz(t, context.Background(), dir, bytes.NewReader(tgz))
			}
			if err != nil {
				t.Fatal(err)
			}
			got := heapAllocs() - before
			t.Logf("%s: %.1f MiB allocated to write %.1f MiB (%d files)", kind, float64(got)/(1<<20), float64(size)/(1<<20), len(tree))
			if got > uint64(size)/3 {
				t.Fatalf("%s: %d bytes allocated to write %d: buffers are not being reused", kind, got, size)
			}
		})
	}
}

// peakHeap runs f while sampling the heap's objects, and returns the most seen above what was
// there before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m uint64
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			m = max(m, s[0].Value.Uint64())
			select {
			case <-done:
				peak <- m
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	return max(<-peak, base) - base
}

// BenchmarkExtractPeakHeap reports the peak heap of extracting a release-shaped tree, as a
// ratio to inflating the same stream to io.Discard in the same process (which holds a window
// and a buffer, nothing more): what a change to the bytes held in flight does, whatever the
// machine. The heap limit of the gostrap command is not set here; the collector runs at
// GOGC's pace.
//
//	go test -run '^$' -bench ExtractPeakHeap ./internal/archive/
func BenchmarkExtractPeakHeap(b *testing.B) {
	tree := release(3000)
	tgz, zipData := releaseTarGz(b, tree), releaseZip(b, tree)
	inflate := func() {
		zr, _ := gzip.NewReader(bytes.NewReader(tgz))
		io.Copy(io.Discard, zr)
	}
	for _, kind := range []string{"tar.gz", "zip"} {
		b.Run(kind, func(b *testing.B) {
			var base, got uint64
			for b.Loop() {
				base += peakHeap(inflate)
				dir := b.TempDir()
				got += peakHeap(func() {
					var err error
					if kind == "zip" {
						_, err = extractZip(b, dir, zipData)
					} else {
						_, err = extractTarGz(b, context.Background(), dir, bytes.NewReader(tgz))
					}
					if err != nil {
						b.Fatal(err)
					}
				})
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(got)/float64(b.N)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(got)/float64(max(base, 1)), "x-inflate-only")
		})
	}
}
