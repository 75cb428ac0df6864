package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
)

func reg(name, data string) mirrortest.Entry {
	return mirrortest.Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg}, Data: []byte(data)}
}

func link(name, target string, typ byte) mirrortest.Entry {
	return mirrortest.Entry{Header: tar.Header{Name: name, Typeflag: typ, Linkname: target}}
}

// extractInto extracts a tar.gz into a fresh staging directory below a fresh root and returns
// the error and the root, so the test can check nothing was written beside staging.
func extractInto(t *testing.T, data []byte) (error, string) {
	t.Helper()
	root := t.TempDir()
	staging := filepath.Join(root, "staging")
	os.Mkdir(staging, 0o755)
	return extractLimited(t, data, staging, Limits{}), root
}

func extractLimited(t *testing.T, data []byte, staging string, l Limits) error {
	x, err := New(context.Background(), staging, Options{Prefix: "go/", Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	return x.TarGz(bytes.NewReader(data))
}

// assertContained checks that only staging exists under root, and that it holds nothing but
// regular files (0644 or 0755) and directories.
func assertContained(t *testing.T, root string) {
	t.Helper()
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "staging" {
		t.Fatalf("written beside staging: %v", ents)
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		info, _ := os.Lstat(p)
		m := info.Mode()
		if !m.IsDir() && !m.IsRegular() || m.IsRegular() && !fileModeOK(m) || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s has mode %v", p, m)
		}
		return nil
	})
}

func TestHostileArchives(t *testing.T) {
	work := t.TempDir()
	version := reg("go/VERSION", "go1.22.3\n")
	for _, tc := range []struct {
		name    string
		entries []mirrortest.Entry
		reason  string // "" means the archive is accepted
	}{
		{"dot-dot", []mirrortest.Entry{reg("../x", "pwned")}, "outside the archive's go directory"},
		{"go/../../", []mirrortest.Entry{reg("go/../../x", "pwned")}, "not local"},
		{"go/a/../../..", []mirrortest.Entry{reg("go/a/../../../x", "pwned")}, "not local"},
		{"absolute", []mirrortest.Entry{reg(filepath.ToSlash(filepath.Join(work, "abs")), "pwned")}, absoluteReason},
		{"absolute under go", []mirrortest.Entry{reg("/go/bin/x", "pwned")}, "absolute path"},
		{"backslashes", []mirrortest.Entry{reg(`go\..\..\x`, "pwned")}, "backslash"},
		{"drive letter", []mirrortest.Entry{reg(`C:/Windows/x`, "pwned")}, "colon"},
		{"drive letter under go", []mirrortest.Entry{reg(`go/C:/x`, "pwned")}, "colon"},
		{"dot element", []mirrortest.Entry{reg("go/./bin/go", "x")}, "not local"},
		{"empty element", []mirrortest.Entry{reg("go//bin/go", "x")}, "not local"},
		{"symlink", []mirrortest.Entry{link("go/escape", work, tar.TypeSymlink), reg("go/escape/x", "pwned")}, "symbolic link"},
		{"symlink chain", []mirrortest.Entry{link("go/a", "b", tar.TypeSymlink), link("go/b", "/etc", tar.TypeSymlink)}, "symbolic link"},
		{"hard link", []mirrortest.Entry{reg("go/bin/go", "x"), link("go/bin/gofmt", "go/bin/go", tar.TypeLink)}, "hard link"},
		{"hard link outside", []mirrortest.Entry{link("go/passwd", "/etc/passwd", tar.TypeLink)}, "hard link"},
		{"char device", []mirrortest.Entry{{Header: tar.Header{Name: "go/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}}, "device"},
		{"block device", []mirrortest.Entry{{Header: tar.Header{Name: "go/sda", Typeflag: tar.TypeBlock, Devmajor: 8}}}, "device"},
		{"fifo", []mirrortest.Entry{{Header: tar.Header{Name: "go/fifo", Typeflag: tar.TypeFifo}}}, "named pipe"},
		{"duplicate", []mirrortest.Entry{reg("go/bin/go", "a"), reg("go/bin/go", "b")}, "duplicate"},
		{"case collision", []mirrortest.Entry{reg("go/bin/Go", "a"), reg("go/bin/go", "b")}, "differs only in case"},
		{"name under a file", []mirrortest.Entry{reg("go/bin", "a"), reg("go/bin/go", "b")}, "lies under the file"},
		{"file where a directory is", []mirrortest.Entry{reg("go/bin/go", "b"), reg("go/bin", "a")}, "a file where a directory is"},
		{"terabyte header", []mirrortest.Entry{{Header: tar.Header{Name: "go/big", Typeflag: tar.TypeReg, Size: 1 << 40}}}, "declared size"},
		// Accepted, with the setuid, setgid and sticky bits dropped.
		{"setuid", []mirrortest.Entry{{Header: tar.Header{Name: "go/bin/go", Typeflag: tar.TypeReg, Mode: 0o4755 | 0o2000 | 0o1000}, Data: []byte("x")}}, ""},
		{"world writable", []mirrortest.Entry{{Header: tar.Header{Name: "go/bin/go", Typeflag: tar.TypeReg, Mode: 0o777}, Data: []byte("x")}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, root := extractInto(t, mirrortest.RawTarGz(append([]mirrortest.Entry{version}, tc.entries...)))
			assertContained(t, root)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || failure.Classify(err) != failure.ArchiveUnsafe || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want archive-unsafe with %q", err, tc.reason)
			}
		})
	}
	for _, p := range []string{filepath.Join(work, "abs"), filepath.Join(work, "x"), "/etc/x"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
}

// A decompression bomb: a few kilobytes that unpack past the size limit. Refused once the
// declared sizes pass the limit, with staging holding no more than the limit.
func TestDecompressionBomb(t *testing.T) {
	limits := Limits{Bytes: 64 << 20, FileBytes: 32 << 20}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	zeros := make([]byte, 16<<20)
	for i := range 8 { // 8 x 16 MiB = 128 MiB of zeros
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("go/zero%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(zeros))})
		tw.Write(zeros)
	}
	tw.Close()
	zw.Close()
	t.Logf("bomb: %d bytes of gzip unpacking to %d MiB", buf.Len(), 8*16)
	root := t.TempDir()
	staging := filepath.Join(root, "staging")
	os.Mkdir(staging, 0o755)
	err := extractLimited(t, buf.Bytes(), staging, limits)
	if failure.Classify(err) != failure.ArchiveUnsafe || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Fatalf("err = %v", err)
	}
	assertContained(t, root)
	var total int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if info, _ := d.Info(); info != nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	if total > limits.Bytes {
		t.Fatalf("wrote %d bytes past the %d limit", total, limits.Bytes)
	}
}

// Millions of empty entries: refused at the entry limit.
func TestMillionsOfEntries(t *testing.T) {
	n := 150_000
	if os.Getenv("GOSTRAP_RELIABILITY") == "full" {
		n = 1_000_000 // about 7 s, so the full run only
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for i := range n {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("go/e/%d", i), Typeflag: tar.TypeReg, Mode: 0o644})
	}
	tw.Close()
	zw.Close()
	// A limit of 5k, so the test creates 5k empty files, not 100k.
	root := t.TempDir()
	staging := filepath.Join(root, "staging")
	os.Mkdir(staging, 0o755)
	err := extractLimited(t, buf.Bytes(), staging, Limits{Files: 5_000})
	if failure.Classify(err) != failure.ArchiveUnsafe || !strings.Contains(err.Error(), "more than 5000 entries") {
		t.Fatalf("err = %v", err)
	}
	assertContained(t, root)
	t.Logf("%d empty entries (%d bytes of gzip): refused at the entry limit", n, buf.Len())
}

func TestHostileZips(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(zw *zip.Writer)
		reason string
	}{
		{"dot-dot", func(zw *zip.Writer) { w, _ := zw.Create("go/../x"); w.Write([]byte("x")) }, "not local"},
		{"symlink", func(zw *zip.Writer) {
			h := &zip.FileHeader{Name: "go/link"}
			h.SetMode(fs.ModeSymlink | 0o777)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte("/etc"))
		}, "symbolic link"},
		{"duplicate", func(zw *zip.Writer) {
			for range 2 {
				w, _ := zw.Create("go/bin/go")
				w.Write([]byte("x"))
			}
		}, "duplicate"},
		{"size lie", func(zw *zip.Writer) {
			// Stored, declared 2 bytes, 4 follow: the reader sees the mismatch.
			h := &zip.FileHeader{Name: "go/bin/go", Method: zip.Store}
			w, _ := zw.CreateRaw(&zip.FileHeader{Name: h.Name, Method: zip.Store, CompressedSize64: 4, UncompressedSize64: 2, CRC32: 0})
			w.Write([]byte("abcd"))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			tc.build(zw)
			zw.Close()
			root := t.TempDir()
			staging := filepath.Join(root, "staging")
			os.Mkdir(staging, 0o755)
			x, _ := New(context.Background(), staging, Options{Prefix: "go/"})
			defer x.Close()
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err == nil {
				err = x.Zip(zr, nil)
			}
			if err == nil || tc.reason != "" && !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want %q", err, tc.reason)
			}
			assertContained(t, root)
		})
	}
}
