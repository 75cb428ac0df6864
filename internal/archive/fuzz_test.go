package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

// fuzzEntry is one entry of a seed archive.
type fuzzEntry struct {
	name     string
	typeflag byte // tar type; for zip only TypeDir, TypeReg and TypeSymlink matter
	mode     int64
	body     string
	linkname string
}

var fuzzValid = []fuzzEntry{
	{name: "go/", typeflag: tar.TypeDir, mode: 0o755},
	{name: "go/VERSION", typeflag: tar.TypeReg, mode: 0o644, body: "go1.22.3\ntime 2024-05-01T19:59:52Z\n"},
	{name: "go/bin/", typeflag: tar.TypeDir, mode: 0o755},
	{name: "go/bin/go", typeflag: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\necho go\n"},
	{name: "go/src/go.mod", typeflag: tar.TypeReg, mode: 0o644, body: "module std\n"},
	{name: "go/pkg/empty", typeflag: tar.TypeReg, mode: 0o644},
}

// fuzzHostile are seed archives gostrap must refuse (or write only inside the staging
// directory, with safe modes).
var fuzzHostile = [][]fuzzEntry{
	{{name: "go/../x", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "/abs", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go/t", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/link", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}},
	{{name: "go/t", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/hard", typeflag: tar.TypeLink, linkname: "go/t"}},
	{{name: "go/d/", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go/dev", typeflag: tar.TypeChar, mode: 0o666}},
	{{name: "go/fifo", typeflag: tar.TypeFifo, mode: 0o666}},
	{{name: "go/bin/suid", typeflag: tar.TypeReg, mode: 0o6777, body: "x"}, {name: "go/tmp/", typeflag: tar.TypeDir, mode: 0o1777}},
	{{name: "go/a", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/a", typeflag: tar.TypeReg, mode: 0o644, body: "y"}},
	{{name: "go/a", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/A", typeflag: tar.TypeReg, mode: 0o644, body: "y"}},
	{{name: "go/a", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/a/b", typeflag: tar.TypeReg, mode: 0o644, body: "y"}},
	{{name: "go/a/b", typeflag: tar.TypeReg, mode: 0o644, body: "x"}, {name: "go/a", typeflag: tar.TypeReg, mode: 0o644, body: "y"}},
	{{name: "go", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go/c:x", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: `go\..\x`, typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "other/x", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go/./x", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go//x", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
	{{name: "go/new\nline", typeflag: tar.TypeReg, mode: 0o644, body: "x"}},
}

func fuzzTarGz(t testing.TB, entries []fuzzEntry, level int) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if e.typeflag != tar.TypeDir && strings.HasSuffix(e.name, "/") {
			continue // archive/tar cannot write it
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: e.mode, Linkname: e.linkname}
		if e.typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fuzzZip(t testing.TB, entries []fuzzEntry, method uint16) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var fixups []string
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: method}
		body := e.body
		switch e.typeflag {
		case tar.TypeDir:
			fh.SetMode(fs.ModeDir | fs.FileMode(e.mode))
			fh.Method = zip.Store
		case tar.TypeSymlink:
			fh.SetMode(fs.ModeSymlink | 0o777)
			body = e.linkname
		case tar.TypeChar:
			fh.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o666)
		case tar.TypeFifo:
			fh.SetMode(fs.ModeNamedPipe | 0o666)
		case tar.TypeLink:
			continue // zip has no hard links
		default:
			m := fs.FileMode(e.mode) & fs.ModePerm
			if e.mode&0o4000 != 0 {
				m |= fs.ModeSetuid
			}
			if e.mode&0o2000 != 0 {
				m |= fs.ModeSetgid
			}
			fh.SetMode(m)
		}
		if strings.HasSuffix(e.name, "/") && body != "" {
			// A directory with contents: archive/zip refuses to write one, so write a file
			// and rename it in the bytes afterwards.
			fh.Name = strings.TrimSuffix(e.name, "/") + "\x01"
			fixups = append(fixups, e.name)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	for _, name := range fixups {
		data = bytes.ReplaceAll(data, []byte(strings.TrimSuffix(name, "/")+"\x01"), []byte(name))
	}
	return data
}

func FuzzExtractTarGz(f *testing.F) {
	// Stored (uncompressed) deflate blocks let the fuzzer mutate tar headers directly.
	f.Add(fuzzTarGz(f, fuzzValid, gzip.NoCompression))
	f.Add(fuzzTarGz(f, fuzzValid, gzip.BestSpeed))
	f.Add(fuzzTarGz(f, nil, gzip.NoCompression))
	for _, h := range fuzzHostile {
		f.Add(fuzzTarGz(f, h, gzip.NoCompression))
	}
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, func(x *Extractor) error { return x.TarGz(bytes.NewReader(data)) })
	})
}

func FuzzExtractZip(f *testing.F) {
	f.Add(fuzzZip(f, fuzzValid, zip.Store))
	f.Add(fuzzZip(f, fuzzValid, zip.Deflate))
	f.Add(fuzzZip(f, nil, zip.Store))
	for _, h := range fuzzHostile {
		f.Add(fuzzZip(f, h, zip.Store))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(zr.File) > 1000 {
			return // keep each input cheap
		}
		fuzzExtract(t, func(x *Extractor) error { return x.Zip(zr, nil) })
	})
}

// fuzzExtract runs extract on a fresh staging directory and checks what it left on disk.
func fuzzExtract(t *testing.T, extract func(*Extractor) error) {
	tmp := t.TempDir()
	staging := filepath.Join(tmp, "staging")
	if err := os.Mkdir(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	x, err := New(context.Background(), staging, Options{Prefix: "go/"})
	if err != nil {
		t.Fatal(err)
	}
	xerr := extract(x)
	if testing.Verbose() {
		t.Logf("extract: %v", xerr)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if xerr != nil {
		var ue *UnsafeError
		var me *MalformedError
		if !errors.As(xerr, &ue) && !errors.As(xerr, &me) {
			// A disk error is possible (a file where a directory must go), but nothing else.
			if !strings.Contains(xerr.Error(), staging) {
				t.Fatalf("unexpected error %T: %v", xerr, xerr)
			}
		}
	}

	top, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Name() != "staging" {
		var names []string
		for _, e := range top {
			names = append(names, e.Name())
		}
		t.Fatalf("extraction wrote outside the staging directory: %q (err %v)", names, xerr)
	}

	var files []string
	err = filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(staging, p)
		m := info.Mode()
		if m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Fatalf("%s: mode %v (err %v)", rel, m, xerr)
		}
		switch {
		case m.IsDir():
			if !dirModeOK(m) {
				t.Fatalf("%s: directory mode %v (err %v)", rel, m, xerr)
			}
		case m.IsRegular():
			if !fileModeOK(m) {
				t.Fatalf("%s: file mode %v (err %v)", rel, m, xerr)
			}
			files = append(files, filepath.ToSlash(rel))
		default:
			t.Fatalf("%s: not a regular file or directory: %v (err %v)", rel, m, xerr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if xerr != nil {
		return
	}

	// Every file written is recorded, with its digest, under its own name.
	if n := x.hashes.Len(); n != len(files) {
		t.Fatalf("%d files written, %d recorded: %q", len(files), n, files)
	}
	want, werr := dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(staging, filepath.FromSlash(name)))
	})
	got, gerr := x.hashes.H1()
	if (werr == nil) != (gerr == nil) || werr == nil && got != want {
		t.Fatalf("recorded tree hash %q (%v), files on disk hash to %q (%v)", got, gerr, want, werr)
	}
}
