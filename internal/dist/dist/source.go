package dist

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// ModulePath is gostrap's module path.
const ModulePath = "github.com/gostrap/gostrap"

// MainPackage is the package a dist build builds.
const MainPackage = ModulePath + "/cmd/gostrap"

// ArchivePath is the module path of the embedded source archive (package src embeds it). The
// archive never contains itself: Extract and Build add it to the module copy they make.
const ArchivePath = "internal/dist/src/source.zip"

// Roots are the packages the source archive carries, with every package of this module they
// import on any of Platforms: gostrap, and what rebuilds it (this package, the embedded source,
// the install scripts). Tests, testdata, benchmarks and test helpers stay out.
var Roots = []string{"./cmd/gostrap", "./internal/dist/dist", "./internal/dist/src", "./internal/dist/scripts"}

// listedPackage is what 'go list -json' says about a package, as far as the archive needs.
type listedPackage struct {
	ImportPath string
	Dir        string
	Module     *struct{ Main bool }
	Error      *struct{ Err string }

	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles []string
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles                      []string
}

func (p *listedPackage) files() []string {
	var all []string
	for _, l := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles,
		p.SFiles, p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles} {
		all = append(all, l...)
	}
	return all
}

// sourceFiles lists, slash-separated and relative to the module root, every file of the module
// that building Roots reads on some platform of ps, with go.mod and go.sum. It runs 'go list',
// which downloads the modules the packages need (checked against go.sum: -mod=readonly).
func (b *builder) sourceFiles(ctx context.Context, ps []Platform) ([]string, error) {
	fields := "-json=ImportPath,Dir,Module,Error,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles"
	var mu sync.Mutex
	set := map[string]bool{"go.mod": true, "go.sum": true}
	err := b.each(ctx, ps, func(p Platform) error {
		args := append([]string{"list", "-deps", "-e", fields}, Roots...)
		out, err := b.goCmd(ctx, b.moduleDir, b.platformEnv(b.fetchEnv(), p), args...)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var lp listedPackage
			if err := dec.Decode(&lp); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("go list: %v", err)
			}
			if lp.Error != nil {
				return fmt.Errorf("go list %s: %s", lp.ImportPath, lp.Error.Err)
			}
			if lp.Module == nil || !lp.Module.Main {
				continue
			}
			rel, err := filepath.Rel(b.moduleDir, lp.Dir)
			if err != nil || !filepath.IsLocal(rel) && rel != "." {
				return fmt.Errorf("go list: package %s is outside the module (%s)", lp.ImportPath, lp.Dir)
			}
			mu.Lock()
			for _, f := range lp.files() {
				set[path.Join(filepath.ToSlash(rel), f)] = true
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	delete(set, ArchivePath)
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	slices.Sort(files)
	return files, nil
}

// memFile is a file for modzip.Create.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo(f), nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }
func (f memFile) String() string               { return f.name }

type memInfo memFile

func (i memInfo) Name() string       { return path.Base(i.name) }
func (i memInfo) Size() int64        { return int64(len(i.data)) }
func (i memInfo) Mode() os.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// moduleZip writes a module zip of files (sorted by name), deterministically: same files, same
// bytes (entries carry no time, and Go's deflate is deterministic for a given Go release).
func moduleZip(version string, files []memFile) ([]byte, error) {
	slices.SortFunc(files, func(a, b memFile) int { return strings.Compare(a.name, b.name) })
	zf := make([]modzip.File, len(files))
	for i, f := range files {
		zf[i] = f
	}
	var buf bytes.Buffer
	if err := modzip.Create(&buf, module.Version{Path: ModulePath, Version: version}, zf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readFiles reads files (slash paths relative to dir).
func readFiles(dir string, names []string) ([]memFile, error) {
	files := make([]memFile, 0, len(names))
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return nil, err
		}
		files = append(files, memFile{n, data})
	}
	return files, nil
}

// ArchiveVersion returns the module version a source archive was made for.
func ArchiveVersion(archive []byte) (string, error) {
	zr, err := zipReader(archive)
	if err != nil {
		return "", err
	}
	if len(zr.File) == 0 {
		return "", errors.New("source archive: empty")
	}
	mod, vers, ok := strings.Cut(zr.File[0].Name, "@")
	if !ok || mod != ModulePath {
		return "", fmt.Errorf("source archive: %q is not a file of %s", zr.File[0].Name, ModulePath)
	}
	vers, _, _ = strings.Cut(vers, "/")
	if err := module.Check(ModulePath, vers); err != nil {
		return "", fmt.Errorf("source archive: %w", err)
	}
	return vers, nil
}

// Extract writes the module source in archive (as Build returns it in Result.Archive, and as
// package src embeds it) into dir, which must be empty or not exist, and the archive itself at
// ArchivePath: dir is then the module exactly as a dist build compiled it, and Build with
// ModuleDir dir makes the same archive and the same binaries. Paths are checked as the go
// command checks module zips (nothing escapes dir); files are written read-only.
func Extract(archive []byte, dir string) error {
	vers, err := ArchiveVersion(archive)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "gostrap-source-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(archive); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := modzip.Unzip(dir, module.Version{Path: ModulePath, Version: vers}, tmp.Name()); err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(ArchivePath))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, archive, 0o444)
}

func zipReader(a []byte) (*zip.Reader, error) {
	r, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		return nil, fmt.Errorf("source archive: %w", err)
	}
	return r, nil
}
