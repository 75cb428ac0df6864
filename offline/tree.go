package offline

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/gostrap/gostrap/verify"
)

// Tree is an opened release tree: a directory, or one tar of it.
type Tree struct {
	// Path is where it was opened from.
	Path     string
	FS       fs.FS
	Manifest *Manifest
	close    func() error
}

// Close releases the tree.
func (t *Tree) Close() error {
	if t.close != nil {
		return t.close()
	}
	return nil
}

// Open opens the tree at p (a directory, or a .tar file) and reads its manifest.
func Open(p string) (*Tree, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	t := &Tree{Path: p}
	if st.IsDir() {
		t.FS = os.DirFS(p)
	} else {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		tfs, err := newTarFS(f, st.Size())
		if err != nil {
			f.Close()
			return nil, &verify.TamperedError{Path: p, Reason: "not a readable tar: " + err.Error()}
		}
		t.FS, t.close = tfs, f.Close
	}
	data, err := readCapped(t.FS, ManifestName, MaxManifest)
	if err != nil {
		t.Close()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no %s: not a gostrap bundle or mirror tree", p, ManifestName)
		}
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Close()
		var se *verify.SecurityError
		if errors.As(err, &se) {
			return nil, &verify.SecurityError{Detail: "bundle " + p + ": " + se.Detail}
		}
		return nil, &verify.TamperedError{Path: p, Reason: err.Error()}
	}
	t.Manifest = m
	return t, nil
}

func readCapped(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s larger than %d bytes", name, max)
	}
	return data, nil
}

// Check opens the file at p and checks its size and sha256 against the manifest, returning it
// open for reading from the start.
func (t *Tree) Check(p string) (fs.File, File, error) {
	want, ok := t.Manifest.File(p)
	if !ok {
		return nil, File{}, &verify.TamperedError{Path: t.Path, Reason: p + " is not listed in the manifest"}
	}
	f, err := t.FS.Open(p)
	if err != nil {
		return nil, want, &verify.TamperedError{Path: t.Path, Reason: p + " is missing"}
	}
	st, err := f.Stat()
	if err != nil || st.Size() != want.Size {
		f.Close()
		got := int64(-1)
		if st != nil {
			got = st.Size()
		}
		return nil, want, &verify.TamperedError{Path: t.Path, Reason: fmt.Sprintf("%s is %d bytes, the manifest says %d (truncated or replaced)", p, got, want.Size)}
	}
	return f, want, nil
}

// ReadSumDB reads a checksum-database protocol path from the tree's sumdb/<name>/ directory:
// the Remote of an offline checksum-database client.
func (t *Tree) ReadSumDB(name string) verify.Remote {
	return func(ctx context.Context, remote string) ([]byte, error) {
		p := SumDBPath(name, remote)
		if err := checkPath(p); err != nil {
			return nil, err
		}
		if _, listed := t.Manifest.File(p); !listed {
			return nil, fmt.Errorf("%s: %w (not in the bundle)", p, fs.ErrNotExist)
		}
		return readCapped(t.FS, p, verify.MaxSumDBDoc)
	}
}

// Prove checks an entry's checksum-database proof offline: the signed tree head must verify
// with db's key, and the record must be in that tree (the tiles prove it). It returns the h1
// the log records for the entry's module.
func (t *Tree) Prove(ctx context.Context, db verify.DB, e Entry) (string, error) {
	if db.Name != t.Manifest.SumDB {
		return "", &verify.TamperedError{Path: t.Path, Reason: fmt.Sprintf("its proofs are from the checksum database %s; this machine trusts %s", t.Manifest.SumDB, db.Name)}
	}
	// A fresh client, its state in memory: what this machine saw of the log before must not
	// decide, and what the bundle holds must prove itself.
	s := verify.NewSumDB(db, t.ReadSumDB(db.Name), &verify.MemStore{})
	h1, err := s.Lookup(ctx, verify.ToolchainModule, e.Module)
	if err != nil {
		var se *verify.SecurityError
		if errors.As(err, &se) || errors.Is(err, fs.ErrNotExist) {
			return "", &verify.TamperedError{Path: t.Path, Reason: fmt.Sprintf("the checksum-database proof for %s does not verify: %v", e.Module, firstLine(err.Error()))}
		}
		return "", err
	}
	if h1 != e.H1 {
		return "", &verify.SecurityError{Detail: fmt.Sprintf("bundle %s: its manifest gives %s for %s@%s, but its own checksum-database proof records %s",
			t.Path, e.H1, verify.ToolchainModule, e.Module, h1)}
	}
	return h1, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if l == "SECURITY ERROR" {
		rest := strings.SplitN(s, "\n", 3)
		if len(rest) > 1 {
			return l + ": " + rest[1]
		}
	}
	return l
}

// allFiles lists every regular file in the tree but the manifest, to find files the manifest
// does not account for.
func (t *Tree) allFiles() ([]string, error) {
	if tf, ok := t.FS.(*tarFS); ok {
		var out []string
		for n := range tf.files {
			if n != ManifestName {
				out = append(out, n)
			}
		}
		return out, nil
	}
	var out []string
	err := fs.WalkDir(t.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || p == ManifestName {
			return nil
		}
		out = append(out, p) // a link or other irregular file too: a tree holds regular files only
		return nil
	})
	return out, err
}

// tarFS is a read-only fs.FS over an uncompressed tar, reading members in place: a bundle
// carried as one file is used without unpacking it.
type tarFS struct {
	r     io.ReaderAt
	files map[string]tarMember
}

type tarMember struct {
	off, size int64
	mtime     time.Time
}

// newTarFS indexes a tar in one pass over its headers, recording where each member's data
// lies. Only regular files and directories with local names are accepted.
func newTarFS(r io.ReaderAt, size int64) (*tarFS, error) {
	cr := &countReader{r: io.NewSectionReader(r, 0, size)}
	tr := tar.NewReader(cr)
	t := &tarFS{r: r, files: map[string]tarMember{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
		if name == "." || name == "" {
			continue
		}
		if !fs.ValidPath(name) {
			return nil, fmt.Errorf("member %q is not a local path", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("member %q is not a regular file", h.Name)
		}
		if _, dup := t.files[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", h.Name)
		}
		// Next has consumed the header blocks: the data starts here.
		t.files[name] = tarMember{off: cr.n, size: h.Size, mtime: h.ModTime}
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (t *tarFS) Open(name string) (fs.File, error) {
	m, ok := t.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &tarFile{SectionReader: io.NewSectionReader(t.r, m.off, m.size), name: name, m: m}, nil
}

type tarFile struct {
	*io.SectionReader
	name string
	m    tarMember
}

func (f *tarFile) Stat() (fs.FileInfo, error) { return tarInfo{f.name, f.m}, nil }
func (f *tarFile) Close() error               { return nil }

type tarInfo struct {
	name string
	m    tarMember
}

func (i tarInfo) Name() string       { return path.Base(i.name) }
func (i tarInfo) Size() int64        { return i.m.size }
func (i tarInfo) Mode() fs.FileMode  { return 0o444 }
func (i tarInfo) ModTime() time.Time { return i.m.mtime }
func (i tarInfo) IsDir() bool        { return false }
func (i tarInfo) Sys() any           { return nil }
