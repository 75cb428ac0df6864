package offline

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
)

// Writer creates or updates a tree in a directory. Files are written beside their final name
// and renamed into place; the manifest is written last, so a tree interrupted midway keeps its
// previous manifest and the next run redoes only what that manifest does not vouch for.
type Writer struct {
	Dir     string
	sumdb   string
	files   map[string]File
	entries map[string]Entry
	prev    *Manifest
	gostrap *GostrapSet
}

// PreviousGostrap is what the previous manifest said of the gostrap binaries, if anything.
func (w *Writer) PreviousGostrap() *GostrapSet {
	if w.prev == nil {
		return nil
	}
	return w.prev.Gostrap
}

// SetGostrap records the gostrap binaries the tree holds.
func (w *Writer) SetGostrap(g GostrapSet) { w.gostrap = &g }

// OpenWriter opens dir for writing, reading the manifest already there (if any).
func OpenWriter(dir, sumdbName string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &failure.DiskError{Op: "create", Path: dir, Err: err}
	}
	w := &Writer{Dir: dir, sumdb: sumdbName, files: map[string]File{}, entries: map[string]Entry{}}
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err == nil {
		m, err := ParseManifest(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (remove it to start the tree afresh)", dir, err)
		}
		if m.SumDB != sumdbName {
			return nil, fmt.Errorf("%s holds proofs from %s, not %s: use another directory", dir, m.SumDB, sumdbName)
		}
		w.prev = m
		for _, f := range m.Files {
			w.files[f.Path] = f
		}
		for _, e := range m.Entries {
			w.entries[e.Version+" "+e.Platform] = e
		}
	}
	return w, nil
}

// Tmp is a directory inside the tree for partial downloads (so they resume, and rename into
// place on the same file system).
func (w *Writer) Tmp() string { return filepath.Join(w.Dir, ".tmp") }

// Have reports whether p is in the tree as the previous manifest lists it (its bytes re-hashed).
func (w *Writer) Have(p string) bool {
	want, ok := w.files[p]
	if !ok {
		return false
	}
	f, err := os.Open(w.path(p))
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return err == nil && n == want.Size && hex.EncodeToString(h.Sum(nil)) == want.SHA256
}

// Previous returns the entry the previous manifest had for a release.
func (w *Writer) Previous(version, platform string) (Entry, bool) {
	e, ok := w.entries[version+" "+platform]
	return e, ok
}

func (w *Writer) path(p string) string { return filepath.Join(w.Dir, filepath.FromSlash(p)) }

// Put writes a small file.
func (w *Writer) Put(p string, data []byte) error { return w.PutMode(p, data, 0o644) }

// PutMode writes a file with the given permissions (an executable: gostrap, install.sh).
func (w *Writer) PutMode(p string, data []byte, perm fs.FileMode) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if err := layout.WriteFile(w.path(p), data, perm); err != nil {
		return &failure.DiskError{Op: "write", Path: w.path(p), Err: err}
	}
	sum := sha256.Sum256(data)
	w.files[p] = File{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	return nil
}

// Adopt moves a verified file (in Tmp) to p, recording its size and sha256.
func (w *Writer) Adopt(p, tmp string, size int64, sha string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(w.path(p)), 0o755); err != nil {
		return &failure.DiskError{Op: "create", Path: filepath.Dir(w.path(p)), Err: err}
	}
	if err := layout.Rename(tmp, w.path(p)); err != nil {
		return &failure.DiskError{Op: "rename", Path: w.path(p), Err: err}
	}
	w.files[p] = File{Path: p, Size: size, SHA256: sha}
	return nil
}

// Record adds or replaces a release's entry.
func (w *Writer) Record(e Entry) { w.entries[e.Version+" "+e.Platform] = e }

// Finish writes the proxy list and .info/.mod files, index.json, the archives' .sha256 files and,
// last, the manifest. Files of the tree that no entry and no listed file accounts for are left
// alone but not listed.
func (w *Writer) Finish() (*Manifest, error) {
	var modules []string
	byVersion := map[string]*mirror.Release{}
	var versions []string
	for _, e := range w.entries {
		if e.Zip != "" {
			modules = append(modules, e.Module)
			if err := w.Put(InfoPath(e.Module), fmt.Appendf(nil, `{"Version":%q,"Time":"2000-01-01T00:00:00Z"}`+"\n", e.Module)); err != nil {
				return nil, err
			}
			if err := w.Put(ModPath(e.Module), []byte("module golang.org/toolchain\n")); err != nil {
				return nil, err
			}
		}
		if e.Archive != "" {
			f := w.files[e.Archive]
			if err := w.Put(e.Archive+".sha256", fmt.Appendf(nil, "%s  %s\n", f.SHA256, path.Base(e.Archive))); err != nil {
				return nil, err
			}
			if e.OfficialSHA256 {
				p, err := mirror.ParsePlatform(e.Platform)
				if err != nil {
					return nil, err
				}
				r := byVersion[e.Version]
				if r == nil {
					r = &mirror.Release{Version: e.Version, Stable: mirror.IsStable(e.Version)}
					byVersion[e.Version] = r
					versions = append(versions, e.Version)
				}
				r.Files = append(r.Files, mirror.File{Filename: path.Base(e.Archive), OS: p.OS, Arch: p.OfficialArch(),
					Version: e.Version, SHA256: f.SHA256, Size: f.Size, Kind: "archive"})
			}
		}
	}
	slices.Sort(modules)
	if len(modules) > 0 {
		if err := w.Put(ListPath, []byte(strings.Join(modules, "\n")+"\n")); err != nil {
			return nil, err
		}
		if err := w.Put(SumDBPath(w.sumdb, "/supported"), nil); err != nil {
			return nil, err
		}
	}
	mirror.SortVersions(versions)
	index := []mirror.Release{}
	for i := len(versions) - 1; i >= 0; i-- {
		r := byVersion[versions[i]]
		slices.SortFunc(r.Files, func(a, b mirror.File) int { return strings.Compare(a.Filename, b.Filename) })
		index = append(index, *r)
	}
	data, _ := json.MarshalIndent(index, "", " ")
	if err := w.Put(IndexPath, append(data, '\n')); err != nil {
		return nil, err
	}

	m := &Manifest{Format: Format, Created: time.Now().UTC().Truncate(time.Second), SumDB: w.sumdb, Gostrap: w.gostrap}
	for _, f := range w.files {
		if _, err := os.Stat(w.path(f.Path)); err == nil {
			m.Files = append(m.Files, f)
		}
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for _, e := range w.entries {
		m.Entries = append(m.Entries, e)
	}
	slices.SortFunc(m.Entries, func(a, b Entry) int {
		if c := mirror.CompareVersions(b.Version, a.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Platform, b.Platform)
	})
	data, _ = json.MarshalIndent(m, "", " ")
	if err := layout.WriteFile(filepath.Join(w.Dir, ManifestName), append(data, '\n'), 0o644); err != nil {
		return nil, &failure.DiskError{Op: "write", Path: filepath.Join(w.Dir, ManifestName), Err: err}
	}
	layout.RemoveAll(w.Tmp())
	return m, nil
}

// Pack writes the tree at dir as one uncompressed tar at out (temporary file, then rename): the
// manifest first, then the files in manifest order.
func Pack(dir string, m *Manifest, out string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return &failure.DiskError{Op: "create", Path: out, Err: err}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	tw := tar.NewWriter(f)
	add := func(p string) error {
		src, err := os.Open(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	}
	if err := add(ManifestName); err != nil {
		return &failure.DiskError{Op: "pack", Path: out, Err: err}
	}
	for _, file := range m.Files {
		if err := add(file.Path); err != nil {
			return &failure.DiskError{Op: "pack", Path: out, Err: err}
		}
	}
	if err := tw.Close(); err != nil {
		return &failure.DiskError{Op: "pack", Path: out, Err: err}
	}
	if err := f.Sync(); err != nil {
		return &failure.DiskError{Op: "sync", Path: out, Err: err}
	}
	if err := f.Close(); err != nil {
		return &failure.DiskError{Op: "close", Path: out, Err: err}
	}
	if err := layout.Rename(f.Name(), out); err != nil {
		return &failure.DiskError{Op: "rename", Path: out, Err: err}
	}
	return nil
}
