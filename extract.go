package gostrap

import (
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

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/verify"
)

// Limits on what an archive may make gostrap write. A Go release is about 15k files and 300 MB
// unpacked, its largest file under 40 MB; the limits leave room for growth and stop a bomb long
// before the disk fills. (Variables, so that tests can make bombs of a reasonable size.)
var (
	maxArchiveFiles       = 100_000
	maxArchiveBytes int64 = 2 << 30
	maxFileBytes    int64 = 512 << 20
)

// UnsafeArchiveError is an archive entry gostrap refuses to write. Nothing of the archive is
// installed.
type UnsafeArchiveError struct {
	Entry  string
	Reason string
}

func (e *UnsafeArchiveError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Entry, e.Reason)
}

func (e *UnsafeArchiveError) Class() download.Class { return download.ClassArchiveUnsafe }

// MalformedArchiveError is an archive that cannot be read (a bad gzip stream, a zip whose data
// does not match its directory). It is reported as the failure of whatever digest should have
// vouched for the bytes, when there is one.
type MalformedArchiveError struct{ Err error }

func (e *MalformedArchiveError) Error() string         { return "malformed archive: " + e.Err.Error() }
func (e *MalformedArchiveError) Unwrap() error         { return e.Err }
func (e *MalformedArchiveError) Class() download.Class { return download.ClassArchiveUnsafe }

// extractor writes archive entries into a fresh staging directory through os.Root, so no entry
// can reach outside it whatever its name, and records each file's sha256 for the tree hash.
//
// Names are checked before anything is written: they must lie under the archive's prefix and
// be valid, local, slash-separated paths (no "..", no absolute paths, no backslashes or drive
// letters); only regular files and directories are accepted; each file is created with O_EXCL
// (a duplicate name is refused) and no two names may differ only in case. Sizes are capped per
// file and in total, and the count of entries too.
type extractor struct {
	root   *os.Root
	dir    string
	prefix string // stripped from every name ("go/", or the module prefix)
	hashes *verify.Hashes
	// mode gives the permission bits of a file from its name and the archive's mode.
	mode func(rel string, archiveMode fs.FileMode) fs.FileMode

	mu     sync.Mutex
	files  int
	total  int64
	folded map[string]string // lower-cased name -> name
	isDir  map[string]bool   // lower-cased name, claimed or above one -> a directory, or a file
	dirMu  sync.Mutex
	dirs   map[string]*dirHandle
	// rename maps a name (relative to the prefix) to the path it is written at; the hashes
	// keep the archive's name (a module zip's _go.mod is written as go.mod).
	rename func(string) string
	// afterFile, when set, is called after each file is written (the crash-test checkpoint).
	afterFile func(n int)
}

func newExtractor(dir, prefix string, mode func(string, fs.FileMode) fs.FileMode) (*extractor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &download.DiskError{Op: "open", Path: dir, Err: err}
	}
	x := &extractor{root: root, dir: dir, prefix: prefix, hashes: &verify.Hashes{}, mode: mode,
		folded: map[string]string{}, isDir: map[string]bool{}, dirs: map[string]*dirHandle{}}
	if os.Getenv("GOSTRAP_CRASH_AT") == "mid-extraction" {
		x.afterFile = func(n int) {
			if n == 8 {
				checkpoint("mid-extraction")
			}
		}
	}
	return x, nil
}

func (x *extractor) Close() error {
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
// "/"; the prefix directory itself comes back as ".".
func (x *extractor) name(raw string, isDir bool) (string, error) {
	n := raw
	if isDir {
		n = strings.TrimSuffix(n, "/")
	}
	switch {
	case strings.ContainsAny(n, "\\\x00"):
		return "", &UnsafeArchiveError{raw, "backslash or NUL in name"}
	case strings.Contains(n, ":"):
		return "", &UnsafeArchiveError{raw, "colon in name (drive letter or alternate stream)"}
	case strings.HasPrefix(n, "/"):
		return "", &UnsafeArchiveError{raw, "absolute path"}
	}
	if n+"/" == x.prefix {
		return ".", nil
	}
	rel, ok := strings.CutPrefix(n, x.prefix)
	if !ok {
		return "", &UnsafeArchiveError{raw, "outside the archive's " + strings.TrimSuffix(x.prefix, "/") + " directory"}
	}
	if !fs.ValidPath(rel) || rel == "." || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", &UnsafeArchiveError{raw, "path is not local (.. or empty element)"}
	}
	return rel, nil
}

// claim counts an entry against the limits and refuses case-colliding names.
func (x *extractor) claim(raw, rel string, size int64, isFile bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.files++
	if x.files > maxArchiveFiles {
		return &UnsafeArchiveError{raw, fmt.Sprintf("more than %d entries", maxArchiveFiles)}
	}
	if size < 0 || size > maxFileBytes {
		return &UnsafeArchiveError{raw, fmt.Sprintf("declared size %d over the %d-byte limit", size, maxFileBytes)}
	}
	x.total += size
	if x.total > maxArchiveBytes {
		return &UnsafeArchiveError{raw, fmt.Sprintf("archive unpacks to more than %d bytes", maxArchiveBytes)}
	}
	low := strings.ToLower(rel)
	if prev, ok := x.folded[low]; ok {
		if prev == rel {
			return &UnsafeArchiveError{raw, "duplicate entry"}
		}
		return &UnsafeArchiveError{raw, "name differs only in case from " + prev}
	}
	// A name under a file, or a file where a directory is, is refused here rather than left
	// to whichever of the parallel writers gets there first.
	// A directory already known has its parents known too.
	for d := path.Dir(low); d != "."; d = path.Dir(d) {
		if dir, ok := x.isDir[d]; ok {
			if !dir {
				return &UnsafeArchiveError{raw, "lies under the file " + x.folded[d]}
			}
			break
		}
		x.isDir[d] = true
	}
	if isFile && x.isDir[low] {
		return &UnsafeArchiveError{raw, "a file where a directory is"}
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
func (x *extractor) dirRoot(dir string) (*os.Root, error) {
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

func (x *extractor) mkdir(raw string) error {
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

// file writes one regular file of the declared size from r, hashing it on the way.
func (x *extractor) file(raw string, size int64, archiveMode fs.FileMode, r io.Reader, buf []byte) error {
	rel, err := x.name(raw, false)
	if err != nil {
		return err
	}
	if rel == "." {
		return &UnsafeArchiveError{raw, "file in place of the root directory"}
	}
	if err := x.claim(raw, rel, size, true); err != nil {
		return err
	}
	return x.write(raw, rel, size, x.mode(rel, archiveMode), r, buf)
}

// create makes the file for an entry (under its written name), refusing one that exists.
func (x *extractor) create(raw, rel string, perm fs.FileMode) (*os.File, string, error) {
	dst := rel
	if x.rename != nil {
		dst = x.rename(rel)
	}
	d, err := x.dirRoot(path.Dir(dst))
	if err != nil {
		return nil, dst, err
	}
	f, err := d.OpenFile(path.Base(dst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, dst, &UnsafeArchiveError{raw, "duplicate entry"}
		}
		return nil, dst, x.fileErr(dst, err)
	}
	return f, dst, nil
}

// written records a file's digest once it is complete.
func (x *extractor) written(rel string, sum []byte) {
	x.hashes.Add(rel, sum)
	if x.afterFile != nil {
		x.afterFile(x.hashes.Len())
	}
}

// write writes an entry of the declared size streamed from r, hashing it on the way.
func (x *extractor) write(raw, rel string, size int64, perm fs.FileMode, r io.Reader, buf []byte) (err error) {
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
		return &MalformedArchiveError{fmt.Errorf("%s: %w", raw, err)}
	}
	if n != size {
		return &UnsafeArchiveError{raw, fmt.Sprintf("holds %d bytes, declared %d", n, size)}
	}
	x.written(rel, h.Sum(nil))
	return nil
}

// writeData writes a file whose bytes are in memory: one write, its digest from the same bytes.
func (x *extractor) writeData(raw, rel string, perm fs.FileMode, data []byte) error {
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
	x.written(rel, sum[:])
	return nil
}

func (x *extractor) fileErr(rel string, err error) error {
	return &download.DiskError{Op: "write", Path: filepath.Join(x.dir, filepath.FromSlash(rel)), Err: err}
}

// releaseMode is the permission of a file from a release archive: executable if the archive
// says so, never setuid, setgid or sticky, never writable by others.
func releaseMode(_ string, m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// toolchainMode restores the permissions a module zip cannot carry. The go command makes
// pkg/tool, the go_*_exec helpers in lib and bin executable; cmd/distpack, which builds both the
// release archive and the module zip, also marks *.bash, *.sh, *.pl and *.rc. gostrap applies
// distpack's rule, so a tree installed from the proxy is identical to one installed from the
// archive.
func toolchainMode(rel string, _ fs.FileMode) fs.FileMode {
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
