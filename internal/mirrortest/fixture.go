// Package mirrortest builds fake Go releases in the test and serves them the way the real
// servers do: an official download site (JSON index and archives), flat mirrors, a module proxy
// serving golang.org/toolchain, and a real checksum database (golang.org/x/mod/sumdb's server
// with a signing key made for the test).
//
// The toolchain module zips are built from the same trees as the release archives with the
// mapping the Go release process uses, written out here independently of package verify, so
// that the tests check gostrap's mapping rather than restate it.
package mirrortest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"

	"github.com/gostrap/gostrap/mirror"
)

// DefaultVersions spans the naming rules: go1.20 (a release named like a line), patches,
// go1.21.0 (a line's first release after the rename), and a release candidate.
var DefaultVersions = []string{"go1.20", "go1.20.14", "go1.21.0", "go1.21.13", "go1.22.0", "go1.22.3", "go1.23rc1"}

// Options configure New.
type Options struct {
	Versions  []string
	Platforms []mirror.Platform
	// Pad adds this many incompressible bytes to every archive (pkg/tool/.../compile), for
	// tests that cut a download midway.
	Pad int
	// DBName is the checksum database's name (default sum.test).
	DBName string
	// GoCommand gives, for a platform, the bytes of bin/go (bin/go.exe) in place of the shell
	// script: a real program (BuildGoCommand) for tests that run an installed toolchain where
	// no shell runs it, as on Windows or under wine. A platform without an entry keeps the
	// script.
	GoCommand map[mirror.Platform][]byte
}

// Fixture is a set of releases and what publishes them.
type Fixture struct {
	Versions  []string
	Platforms []mirror.Platform
	// Archives maps release archive file names to their bytes.
	Archives map[string][]byte
	// Trees maps "<version> <os>/<arch>" to the release tree (names relative to go/).
	Trees map[string]map[string]File
	// ModZips maps toolchain module versions to zip bytes.
	ModZips map[string][]byte
	// Index is the official JSON index.
	Index []mirror.Release

	// DB is the checksum database; VKey its verifier key, DBName its name.
	DB     *sumdb.TestServer
	DBName string
	VKey   string
	SKey   string

	mu sync.Mutex
}

// File is one file of a release tree.
type File struct {
	Data []byte
	Mode fs.FileMode
}

// Host is the platform the tests run on.
var Host = mirror.Host()

// New builds the releases.
func New(o Options) (*Fixture, error) {
	if o.Versions == nil {
		o.Versions = DefaultVersions
	}
	if o.Platforms == nil {
		// On a Windows host, windows/amd64 is the host: listed once.
		o.Platforms = []mirror.Platform{Host}
		for _, p := range []mirror.Platform{{OS: "windows", Arch: "amd64"}, {OS: "linux", Arch: "arm"}} {
			if p != Host {
				o.Platforms = append(o.Platforms, p)
			}
		}
	}
	if o.DBName == "" {
		o.DBName = "sum.test"
	}
	f := &Fixture{Versions: o.Versions, Platforms: o.Platforms, Archives: map[string][]byte{},
		Trees: map[string]map[string]File{}, ModZips: map[string][]byte{}, DBName: o.DBName}
	pad := make([]byte, o.Pad)
	rand.Read(pad)
	for _, v := range o.Versions {
		rel := mirror.Release{Version: v, Stable: mirror.IsStable(v)}
		for _, p := range o.Platforms {
			tree := Tree(v, p, pad)
			if b := o.GoCommand[p]; b != nil {
				tree[GoCmd(p)] = File{b, 0o755}
			}
			f.Trees[v+" "+p.String()] = tree
			name := p.ArchiveName(v)
			data, err := ReleaseArchive(p, tree)
			if err != nil {
				return nil, err
			}
			f.Archives[name] = data
			sum := sha256.Sum256(data)
			rel.Files = append(rel.Files, mirror.File{Filename: name, OS: p.OS, Arch: p.OfficialArch(), Version: v,
				SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Kind: "archive"})
			mz, err := ModuleZip(p.ToolchainVersion(v), tree)
			if err != nil {
				return nil, err
			}
			f.ModZips[p.ToolchainVersion(v)] = mz
		}
		rel.Files = append(rel.Files, mirror.File{Filename: v + ".src.tar.gz", OS: "", Arch: "", Version: v,
			SHA256: strings.Repeat("ab", 32), Size: 100, Kind: "source"})
		f.Index = append(f.Index, rel)
	}
	// The real index lists the newest first.
	sort.SliceStable(f.Index, func(i, j int) bool { return version.Compare(f.Index[i].Version, f.Index[j].Version) > 0 })

	skey, vkey, err := note.GenerateKey(rand.Reader, o.DBName)
	if err != nil {
		return nil, err
	}
	f.SKey, f.VKey = skey, vkey
	f.DB = sumdb.NewTestServer(skey, f.GoSum)
	return f, nil
}

// GoSum returns the go.sum lines the checksum database records for a module version: the
// zip's h1 and the go.mod's.
func (f *Fixture) GoSum(path, vers string) ([]byte, error) {
	f.mu.Lock()
	zdata, ok := f.ModZips[vers]
	f.mu.Unlock()
	if path != mirror.ToolchainModule || !ok {
		return nil, fmt.Errorf("%s@%s: %w", path, vers, fs.ErrNotExist)
	}
	zh, err := HashZip(zdata)
	if err != nil {
		return nil, err
	}
	mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(GoMod)), nil
	})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, vers, zh, path, vers, mh), nil
}

// GoMod is the go.mod of golang.org/toolchain.
const GoMod = "module golang.org/toolchain\n"

// HashZip is dirhash.HashZip over zip bytes.
func HashZip(data []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	var names []string
	files := map[string]*zip.File{}
	for _, zf := range zr.File {
		names = append(names, zf.Name)
		files[zf.Name] = zf
	}
	return dirhash.Hash1(names, func(n string) (io.ReadCloser, error) { return files[n].Open() })
}

// ReleaseArchive packs a tree as p's release archive: a zip for Windows, a .tar.gz elsewhere.
func ReleaseArchive(p mirror.Platform, tree map[string]File) ([]byte, error) {
	if p.OS == "windows" {
		return ZipArchive(tree)
	}
	return TarGz(tree)
}

// GoCmd is the go command's name in a release tree of p: bin/go, or bin/go.exe.
func GoCmd(p mirror.Platform) string {
	if p.OS == "windows" {
		return "bin/go.exe"
	}
	return "bin/go"
}

// Tree is the fake release tree of v for p. Its go command is a shell script that prints
// `go version` as the real one does.
func Tree(v string, p mirror.Platform, pad []byte) map[string]File {
	exe := ""
	if p.OS == "windows" {
		exe = ".exe"
	}
	goCmd := fmt.Sprintf("#!/bin/sh\necho go version %s %s/%s\n", v, p.OS, p.Arch)
	tool := "pkg/tool/" + p.OS + "_" + p.Arch + "/"
	t := map[string]File{
		"VERSION":                           {[]byte(v + "\ntime 2024-05-01T00:00:00Z\n"), 0o644},
		"LICENSE":                           {[]byte("Copyright (c) 2009 The Go Authors.\n"), 0o644},
		"bin/go" + exe:                      {[]byte(goCmd), 0o755},
		"bin/gofmt" + exe:                   {[]byte("#!/bin/sh\necho gofmt\n"), 0o755},
		tool + "compile" + exe:              {append([]byte("compile "+v+"\n"), pad...), 0o755},
		tool + "link" + exe:                 {[]byte("link " + v + "\n"), 0o755},
		"lib/time/zoneinfo.zip":             {[]byte("zoneinfo"), 0o644},
		"lib/wasm/go_js_wasm_exec":          {[]byte("#!/bin/sh\n"), 0o755},
		"src/go.mod":                        {[]byte("module std\n"), 0o644},
		"src/cmd/go.mod":                    {[]byte("module cmd\n"), 0o644},
		"src/fmt/print.go":                  {[]byte("package fmt\n"), 0o644},
		"src/make.bash":                     {[]byte("#!/bin/bash\n"), 0o755},
		"src/cmd/go/testdata/mod/go.mod":    {[]byte("module example.com/m\n"), 0o644},
		"test/run.go":                       {[]byte("package main\n"), 0o644},
		"api/go1.txt":                       {[]byte("pkg fmt\n"), 0o644},
		"doc/go_spec.html":                  {[]byte("<html></html>\n"), 0o644},
		"misc/wasm/wasm_exec.js":            {[]byte("// js\n"), 0o644},
		"misc/chrome/gophertool/README.txt": {[]byte("readme\n"), 0o644},
	}
	return t
}

// sortedNames returns the tree's names in order.
func sortedNames(tree map[string]File) []string {
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TarGz packs a tree as a release archive: every entry under go/, directories first.
func TarGz(tree map[string]File) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	seen := map[string]bool{}
	mt := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range sortedNames(tree) {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
			}
		}
	}
	dirs := []string{""}
	for d := range seen {
		dirs = append(dirs, d+"/")
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: "go/" + d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}); err != nil {
			return nil, err
		}
	}
	for _, n := range sortedNames(tree) {
		f := tree[n]
		if err := tw.WriteHeader(&tar.Header{Name: "go/" + n, Typeflag: tar.TypeReg, Mode: int64(f.Mode), Size: int64(len(f.Data)), ModTime: mt}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ZipArchive packs a tree as a Windows release archive.
func ZipArchive(tree map[string]File) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range sortedNames(tree) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "go/" + n, Method: zip.Deflate})
		if err != nil {
			return nil, err
		}
		w.Write(tree[n].Data)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ModuleZip builds the golang.org/toolchain module zip from a release tree as the Go release
// process does (cmd/distpack; x/build's dl2mod for older releases): the .github, api, doc,
// misc and test trees are left out, every go.mod is renamed _go.mod, every name gets the
// module prefix, and no modes or directories are recorded.
func ModuleZip(modVersion string, tree map[string]File) ([]byte, error) {
	prefix := mirror.ToolchainModule + "@" + modVersion + "/"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range sortedNames(tree) {
		switch strings.SplitN(n, "/", 2)[0] {
		case ".github", "api", "doc", "misc", "test":
			continue
		}
		name := n
		if name == "go.mod" || strings.HasSuffix(name, "/go.mod") {
			name = strings.TrimSuffix(name, "go.mod") + "_go.mod"
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + name, Method: zip.Deflate})
		if err != nil {
			return nil, err
		}
		w.Write(tree[n].Data)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// IndexJSON is the official index document.
func (f *Fixture) IndexJSON() []byte {
	data, _ := json.MarshalIndent(f.Index, "", " ")
	return data
}

// Archive returns an archive's bytes.
func (f *Fixture) Archive(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.Archives[name]
	return d, ok
}

// SetModZip replaces the module zip of a toolchain version, before the checksum database is
// first asked for it (it logs whatever zip it is first asked about).
func (f *Fixture) SetModZip(mod string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ModZips[mod] = data
}

// serveBytes serves data with Range, ETag and Content-Length as a static server would.
func serveBytes(w http.ResponseWriter, r *http.Request, name string, data []byte) {
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, name, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

// OfficialHandler serves the index at /dl/?mode=json&include=all and archives at /dl/<file>,
// as go.dev does. Without mode=json the directory answers with an HTML page.
func (f *Fixture) OfficialHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/dl/")
		switch {
		case !ok:
			http.NotFound(w, r)
		case name == "" && r.URL.Query().Get("mode") == "json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(f.IndexJSON())
		case name == "":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body>Downloads</body></html>\n")
		default:
			data, ok := f.Archive(name)
			if !ok {
				http.NotFound(w, r)
				return
			}
			serveBytes(w, r, name, data)
		}
	})
}

// MirrorHandler serves archives in the flat layout at /golang/<file>, with <file>.sha256.
func (f *Fixture) MirrorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/golang/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if base, ok := strings.CutSuffix(name, ".sha256"); ok {
			data, ok := f.Archive(base)
			if !ok {
				http.NotFound(w, r)
				return
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(w, "%x  %s\n", sum, base)
			return
		}
		data, ok := f.Archive(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveBytes(w, r, name, data)
	})
}

// SumDBHandler serves the checksum database protocol (/lookup/, /latest, /tile/).
func (f *Fixture) SumDBHandler() http.Handler { return sumdb.NewServer(f.DB) }

// ProxyHandler serves golang.org/toolchain by the module proxy protocol, and proxies the
// checksum database at /sumdb/<name>/ as public proxies do.
func (f *Fixture) ProxyHandler() http.Handler {
	db := f.SumDBHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if rest, ok := strings.CutPrefix(p, "/sumdb/"+f.DBName+"/"); ok {
			if rest == "supported" {
				w.WriteHeader(http.StatusOK)
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL = &url.URL{Path: "/" + rest}
			db.ServeHTTP(w, r2)
			return
		}
		rest, ok := strings.CutPrefix(p, "/"+mirror.ToolchainModule+"/@v/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if rest == "list" {
			var lines []string
			f.mu.Lock()
			for v := range f.ModZips {
				lines = append(lines, v)
			}
			f.mu.Unlock()
			slices.Sort(lines)
			io.WriteString(w, strings.Join(lines, "\n")+"\n")
			return
		}
		ext := path.Ext(rest)
		v := strings.TrimSuffix(rest, ext)
		f.mu.Lock()
		data, ok := f.ModZips[v]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "not found: "+v, http.StatusNotFound)
			return
		}
		switch ext {
		case ".info":
			fmt.Fprintf(w, `{"Version":%q,"Time":"2024-05-01T00:00:00Z"}`, v)
		case ".mod":
			io.WriteString(w, GoMod)
		case ".zip":
			serveBytes(w, r, rest, data)
		default:
			http.NotFound(w, r)
		}
	})
}

// GOSUMDB is the GOSUMDB value that points gostrap (or the go command) at this database at url.
func (f *Fixture) GOSUMDB(url string) string {
	if url == "" {
		return f.VKey
	}
	return f.VKey + " " + url
}
