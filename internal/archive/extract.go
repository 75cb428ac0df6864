package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/verify"
)

// Limits on what an archive may make gostrap write. A Go release is about 15k files and 300 MB
// unpacked, its largest file under 40 MB; the limits leave room for growth and stop a bomb long
// before the disk fills.
const (
	MaxFiles     = 100_000
	MaxBytes     = 2 << 30
	MaxFileBytes = 512 << 20
)

// Limits caps one extraction; zero fields take the defaults above (tests make smaller bombs).
type Limits struct {
	Files     int
	Bytes     int64
	FileBytes int64
}

// UnsafeError is an archive entry gostrap refuses to write. Nothing of the archive is
// installed.
type UnsafeError struct {
	Entry  string
	Reason string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Entry, e.Reason)
}

func (e *UnsafeError) Class() failure.Class { return failure.ArchiveUnsafe }

// MalformedError is an archive that cannot be read (a bad gzip stream, a zip whose data does
// not match its directory). It matches verify.ErrMalformed: the decision reports it as the
// failure of whatever digest should have vouched for the bytes.
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string        { return "malformed archive: " + e.Err.Error() }
func (e *MalformedError) Unwrap() error        { return e.Err }
func (e *MalformedError) Is(target error) bool { return target == verify.ErrMalformed }
func (e *MalformedError) Class() failure.Class { return failure.ArchiveUnsafe }

// Modes says where a file's permission bits come from.
type Modes int

const (
	// FromArchive: executable if the archive says so (an archive whose digest vouches for
	// its headers).
	FromArchive Modes = iota
	// ByRule: the release rule (ReleaseRule), whatever the archive says: for module zips,
	// which carry no modes, and archives only the checksum database vouches for.
	ByRule
)

// Options describe one extraction.
type Options struct {
	// Prefix is stripped from every name ("go/", or a module zip's "path@version/"); every
	// entry must lie under it.
	Prefix string
	Modes  Modes
	// Rename maps a name (relative to Prefix) to the path it is written at; the hashes keep the
	// archive's name (a module zip's _go.mod is written as go.mod).
	Rename func(string) string
	Limits Limits
	// AfterFile, when set, is called with the count of files written after each one.
	AfterFile func(n int)
}

// Extractor writes archive entries into a fresh staging directory through os.Root, so no entry
// can reach outside it whatever its name, and records each file's sha256 for the tree hash.
//
// Names are checked before anything is written: they must lie under the archive's prefix and
// be valid, local, slash-separated paths (no "..", no absolute paths, no backslashes or drive
// letters); only regular files and directories are accepted; each file is created with O_EXCL
// (a duplicate name is refused) and no two names may differ only in case. Sizes are capped per
// file and in total, and the count of entries too.
type Extractor struct {
	ctx    context.Context
	root   *os.Root
	dir    string
	opts   Options
	hashes *verify.Hashes

	mu     sync.Mutex
	files  int
	total  int64
	folded map[string]string // lower-cased name -> name
	isDir  map[string]bool   // lower-cased name, claimed or above one -> a directory, or a file
	dirMu  sync.Mutex
	dirs   map[string]*dirHandle
}

// New returns an extractor into dir, which must exist and be empty. It stops at the next entry
// once ctx is done.
func New(ctx context.Context, dir string, o Options) (*Extractor, error) {
	if o.Limits.Files <= 0 {
		o.Limits.Files = MaxFiles
	}
	if o.Limits.Bytes <= 0 {
		o.Limits.Bytes = MaxBytes
	}
	if o.Limits.FileBytes <= 0 {
		o.Limits.FileBytes = MaxFileBytes
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &failure.DiskError{Op: "open", Path: dir, Err: err}
	}
	return &Extractor{ctx: ctx, root: root, dir: dir, opts: o, hashes: &verify.Hashes{},
		folded: map[string]string{}, isDir: map[string]bool{}, dirs: map[string]*dirHandle{}}, nil
}

// Hashes are the digests of the files written so far, under their archive names.
func (x *Extractor) Hashes() *verify.Hashes { return x.hashes }

// mode is the permission of the file rel, whose archive header says m.
func (x *Extractor) mode(rel string, m fs.FileMode) fs.FileMode {
	if x.opts.Modes == ByRule {
		return ReleaseRule(rel)
	}
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

func (x *Extractor) Close() error {
	x.dirMu.Lock()
	defer x.dirMu.Unlock()
	for _, h := range x.dirs {
		if h.root != nil {
			h.root.Close()
		}
	}
	x.dirs = nil
	return x.root.Close()
}

// name checks an entry name and returns it relative to the prefix. isDir entries may end in
// "/"; the prefix directory itself comes back as ".", and a file of its name is refused.
func (x *Extractor) name(raw string, isDir bool) (string, error) {
	n := raw
	if isDir {
		n = strings.TrimSuffix(n, "/")
	}
	switch {
	case strings.ContainsAny(n, "\\\x00"):
		return "", &UnsafeError{raw, "backslash or NUL in name"}
	case strings.Contains(n, ":"):
		return "", &UnsafeError{raw, "colon in name (drive letter or alternate stream)"}
	case strings.HasPrefix(n, "/"):
		return "", &UnsafeError{raw, "absolute path"}
	}
	if n+"/" == x.opts.Prefix {
		if !isDir {
			return "", &UnsafeError{raw, "file in place of the root directory"}
		}
		return ".", nil
	}
	rel, ok := strings.CutPrefix(n, x.opts.Prefix)
	if !ok {
		return "", &UnsafeError{raw, "outside the archive's " + strings.TrimSuffix(x.opts.Prefix, "/") + " directory"}
	}
	if !fs.ValidPath(rel) || rel == "." || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", &UnsafeError{raw, "path is not local (.. or empty element)"}
	}
	return rel, nil
}

// claim counts an entry against the limits and refuses case-colliding names.
func (x *Extractor) claim(raw, rel string, size int64, isFile bool) error {
	if x.ctx.Err() != nil {
		return context.Cause(x.ctx)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.files++
	if x.files > x.opts.Limits.Files {
		return &UnsafeError{raw, fmt.Sprintf("more than %d entries", x.opts.Limits.Files)}
	}
	if size < 0 || size > x.opts.Limits.FileBytes {
		return &UnsafeError{raw, fmt.Sprintf("declared size %d over the %d-byte limit", size, x.opts.Limits.FileBytes)}
	}
	x.total += size
	if x.total > x.opts.Limits.Bytes {
		return &UnsafeError{raw, fmt.Sprintf("archive unpacks to more than %d bytes", x.opts.Limits.Bytes)}
	}
	low := strings.ToLower(rel)
	if prev, ok := x.folded[low]; ok {
		if prev == rel {
			return &UnsafeError{raw, "duplicate entry"}
		}
		return &UnsafeError{raw, "name differs only in case from " + prev}
	}
	// A name under a file, or a file where a directory is, is refused here rather than left
	// to whichever of the parallel writers gets there first.
	// A directory already known has its parents known too.
	for d := path.Dir(low); d != "."; d = path.Dir(d) {
		if dir, ok := x.isDir[d]; ok {
			if !dir {
				return &UnsafeError{raw, "lies under the file " + x.folded[d]}
			}
			break
		}
		x.isDir[d] = true
	}
	if isFile && x.isDir[low] {
		return &UnsafeError{raw, "a file where a directory is"}
	}
	x.folded[low] = rel
	x.isDir[low] = !isFile
	return nil
}

// dirHandle is a directory of the tree, made once, open for creating files in.
type dirHandle struct {
	once sync.Once
	root *os.Root
	err  error
}

// dirRoot returns a Root for the directory dir (relative, slash-separated), creating it. Each
// directory is made once; writers in other directories do not wait for it.
func (x *Extractor) dirRoot(dir string) (*os.Root, error) {
	if dir == "." {
		return x.root, nil
	}
	x.dirMu.Lock()
	h, ok := x.dirs[dir]
	if !ok {
		h = &dirHandle{}
		x.dirs[dir] = h
	}
	x.dirMu.Unlock()
	h.once.Do(func() {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			h.err = x.fileErr(dir, err)
			return
		}
		if h.root, h.err = x.root.OpenRoot(dir); h.err != nil {
			h.err = x.fileErr(dir, h.err)
		}
	})
	return h.root, h.err
}

func (x *Extractor) mkdir(raw string) error {
	rel, err := x.name(raw, true)
	if err != nil || rel == "." {
		return err
	}
	if err := x.claim(raw, rel, 0, false); err != nil {
		return err
	}
	_, err = x.dirRoot(rel)
	return err
}

// create makes the file for an entry (under its written name), refusing one that exists.
func (x *Extractor) create(raw, rel string, perm fs.FileMode) (*os.File, string, error) {
	dst := rel
	if x.opts.Rename != nil {
		dst = x.opts.Rename(rel)
	}
	d, err := x.dirRoot(path.Dir(dst))
	if err != nil {
		return nil, dst, err
	}
	f, err := d.OpenFile(path.Base(dst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, dst, &UnsafeError{raw, "duplicate entry"}
		}
		return nil, dst, x.fileErr(dst, err)
	}
	return f, dst, nil
}

// written records a file's digest once it is complete.
func (x *Extractor) written(raw, rel string, sum []byte) error {
	if err := x.hashes.Add(rel, sum); err != nil {
		return &UnsafeError{raw, "duplicate entry"}
	}
	if x.opts.AfterFile != nil {
		x.opts.AfterFile(x.hashes.Len())
	}
	return nil
}

// write writes an entry of the declared size streamed from r, hashing it on the way.
func (x *Extractor) write(raw, rel string, size int64, perm fs.FileMode, r io.Reader, buf []byte) (err error) {
	f, dst, err := x.create(raw, rel, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = x.fileErr(dst, cerr)
		}
	}()
	h := sha256.New()
	lr := &io.LimitedReader{R: r, N: size + 1}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), lr, buf)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return x.fileErr(dst, err)
		}
		return &MalformedError{fmt.Errorf("%s: %w", raw, err)}
	}
	if n != size {
		return &UnsafeError{raw, fmt.Sprintf("holds %d bytes, declared %d", n, size)}
	}
	return x.written(raw, rel, h.Sum(nil))
}

// writeData writes a file whose bytes are in memory: one write, its digest from the same bytes.
func (x *Extractor) writeData(raw, rel string, perm fs.FileMode, data []byte) error {
	f, dst, err := x.create(raw, rel, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return x.fileErr(dst, err)
	}
	if err := f.Close(); err != nil {
		return x.fileErr(dst, err)
	}
	sum := sha256.Sum256(data)
	return x.written(raw, rel, sum[:])
}

func (x *Extractor) fileErr(rel string, err error) error {
	return &failure.DiskError{Op: "write", Path: filepath.Join(x.dir, filepath.FromSlash(rel)), Err: err}
}

// ReleaseRule is the permission of a Go release file, from its name alone. The go command makes
// pkg/tool, the go_*_exec helpers in lib and bin executable; cmd/distpack, which builds both the
// release archive and the module zip, also marks *.bash, *.sh, *.pl and *.rc. gostrap applies
// distpack's rule, so a tree installed from the proxy, or from an archive only the checksum
// database vouches for, is identical to one installed from an official archive.
func ReleaseRule(rel string) fs.FileMode {
	if strings.HasPrefix(rel, "bin/") || strings.HasPrefix(rel, "pkg/tool/") {
		return 0o755
	}
	for _, ext := range []string{".bash", ".sh", ".pl", ".rc"} {
		if strings.HasSuffix(rel, ext) {
			return 0o755
		}
	}
	if ok, _ := path.Match("go_?*_?*_exec", path.Base(rel)); ok {
		return 0o755
	}
	return 0o644
}

// workers is the size of the writer pool. Writers spend their time in file-creating system
// calls, not on a CPU, so there are more of them than cores: measured here (2 cores), creating
// 12k files took 510 ms with one writer and 210 ms with four or eight.
func workers() int { return min(max(4*runtime.GOMAXPROCS(0), 8), 16) }
