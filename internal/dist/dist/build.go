// Package dist builds gostrap's release binaries reproducibly, from a checkout or from the source
// a gostrap binary carries (package src), so that gostrap can put itself into the bundles and
// mirror trees it makes, built for each platform by a Go toolchain it has just verified.
//
// How a build is made, and why:
//
//   - The binaries are built as the module version Options.Version, with 'go install
//     github.com/gostrap/gostrap/cmd/gostrap@VERSION' from a private module proxy that holds the
//     source as a module zip. The go command then records VERSION and the module's h1 hash in
//     the binary's build information (runtime/debug.BuildInfo, 'go version -m'), which is what
//     'gostrap version' reports and what vulnerability scanners read: the version needs no
//     -ldflags -X (which -trimpath keeps out of the build information anyway) and no VCS stamp
//     (which would differ between a checkout and the embedded source).
//   - The source is the module's files that building Roots reads on any of Platforms ('go
//     list'), no tests, testdata or benchmarks: the same set whichever platforms one build asks
//     for. It is archived (a module zip, Result.Archive) and the archive is put into the compiled
//     module at ArchivePath, where package src embeds it: every dist-built gostrap carries the
//     exact source it was built from. Extract writes it back out, and Build from there gives the
//     same bytes. The archive is made at build time, not committed: a committed copy would have
//     to be regenerated with every change to any source file, conflict in every merge, and grow
//     the repository by its size each time.
//   - Dependencies are downloaded into a private module cache, in module mode against the
//     module's go.sum (-mod=readonly), from Options.GOPROXY or the environment's GOPROXY. The
//     build itself then runs with GOPROXY=<private proxy>,off and GOSUMDB=off: it can use nothing
//     but gostrap's own module and what go.sum vouched for. The private cache also keeps the
//     synthetic gostrap module out of the machine's module cache.
//   - Everything else that changes the bytes is fixed: CGO_ENABLED=0, -trimpath, -ldflags='-s -w
//     -buildid=', GOENV=off (no go env file), GOTOOLCHAIN=local, GOFLAGS and the GOARCH variants
//     set here (GOARM=6 for linux/arm, defaults otherwise). What remains is the Go release:
//     the same toolchain and the same source give the same bytes, in any directory, at any time,
//     with any build cache. -s -w drop the symbol table and DWARF (about a third of the size);
//     panics still print symbolised stack traces.
package dist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// Options configure Build.
type Options struct {
	// ModuleDir is gostrap's module source: a checkout, or a directory Extract wrote.
	ModuleDir string
	// Out receives <os>-<arch>/gostrap[.exe] for each platform, and SHA256SUMS.
	Out string
	// Version is the module version the binaries record: a canonical semantic version such as
	// v0.2.0, v0.3.0-rc.1 or a pseudo-version.
	Version string
	// Platforms to build; nil means all of Platforms.
	Platforms []Platform
	// GoBin is the go command; "" means "go" from PATH.
	GoBin string
	// Env is the environment the go command's network settings are read from (GOPROXY,
	// GONOSUMDB, GOPRIVATE, GOINSECURE, GOAUTH, GOSUMDB, GOCACHE, HTTPS_PROXY...); nil means
	// os.Environ(). What changes the output is not taken from it: GOFLAGS, GOOS, GOARCH and
	// their variants, GOEXPERIMENT, CGO_*, the go env file are fixed by Build.
	Env []string
	// GOPROXY, when set, replaces Env's GOPROXY for downloading dependencies.
	GOPROXY string
	// GOCACHE, when set, replaces Env's build cache.
	GOCACHE string
	// WorkDir holds the private module cache and proxy; "" means a temporary directory,
	// removed afterwards.
	WorkDir string
	// Jobs bounds the builds that run at once; 0 means GOMAXPROCS.
	Jobs int
	// Log, when set, receives one line per step.
	Log io.Writer
	// WantSum, when set, is the h1 hash the module must have (a rebuild of a binary: its
	// BuildInfo Main.Sum, see Embedded); Build fails with a *SumMismatchError before compiling
	// anything when it does not.
	WantSum string
}

// Binary is one built binary.
type Binary struct {
	Platform Platform
	// Path is slash-separated, relative to Out: "linux-amd64/gostrap".
	Path   string
	Size   int64
	SHA256 string
}

// Result describes a build.
type Result struct {
	// Version and Sum are the module version and h1 hash the binaries record (BuildInfo
	// Main.Version and Main.Sum).
	Version, Sum string
	// GoVersion is the toolchain's version.
	GoVersion string
	// Archive is the source archive the binaries embed (see Extract).
	Archive []byte
	// Binaries are in Platforms order.
	Binaries []Binary
}

// SumsName is the checksum file's name in Out.
const SumsName = "SHA256SUMS"

// PlatformError is a platform that failed to build.
type PlatformError struct {
	Platform Platform
	Err      error
}

func (e *PlatformError) Error() string { return e.Platform.String() + ": " + e.Err.Error() }
func (e *PlatformError) Unwrap() error { return e.Err }

// BuildError lists the platforms that failed. The others were built; SHA256SUMS was not written.
type BuildError struct {
	Failed []*PlatformError
}

func (e *BuildError) Error() string {
	var names []string
	for _, f := range e.Failed {
		names = append(names, f.Platform.String())
	}
	msg := fmt.Sprintf("dist: %d platform(s) failed to build: %s", len(e.Failed), strings.Join(names, ", "))
	for _, f := range e.Failed {
		msg += "\n" + f.Error()
	}
	return msg
}

// Build builds gostrap for o.Platforms into o.Out and writes SHA256SUMS. When a platform fails,
// the error is a *BuildError naming each failed platform, and SHA256SUMS is removed rather than
// left describing another build.
func Build(ctx context.Context, o Options) (*Result, error) {
	b, err := newBuilder(ctx, o)
	if err != nil {
		return nil, err
	}
	defer b.close()
	return b.build(ctx)
}

// SourceArchive returns the source archive Build would embed, without building: o.Out and
// o.Platforms are not used.
func SourceArchive(ctx context.Context, o Options) ([]byte, error) {
	b, err := newBuilder(ctx, o)
	if err != nil {
		return nil, err
	}
	defer b.close()
	a, _, err := b.archive(ctx)
	return a, err
}

type builder struct {
	o         Options
	goBin     string
	moduleDir string
	work      string
	ownWork   bool
	goenv     map[string]string
	base      []string // the caller's environment without GO* and CGO_*
	jobs      int
	log       io.Writer
}

// goEnvKeys are the settings read from the caller's environment.
var goEnvKeys = []string{"GOVERSION", "GOROOT", "GOHOSTOS", "GOHOSTARCH", "GOCACHE", "GOPROXY", "GONOPROXY",
	"GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOVCS"}

// fetchKeys are the settings that concern downloading.
var fetchKeys = []string{"GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOVCS"}

func newBuilder(ctx context.Context, o Options) (*builder, error) {
	if o.Version == "" {
		return nil, errors.New("dist: no version")
	}
	if v := module.CanonicalVersion(o.Version); v != o.Version {
		return nil, fmt.Errorf("dist: version %q is not a canonical semantic version (such as v0.2.0)", o.Version)
	}
	if err := module.Check(ModulePath, o.Version); err != nil {
		return nil, fmt.Errorf("dist: %w", err)
	}
	b := &builder{o: o, goBin: o.GoBin, jobs: o.Jobs, log: o.Log}
	if b.log == nil {
		b.log = io.Discard
	}
	if b.jobs <= 0 {
		b.jobs = runtime.GOMAXPROCS(0)
	}
	var err error
	if b.goBin == "" {
		if b.goBin, err = exec.LookPath("go"); err != nil {
			return nil, fmt.Errorf("dist: %w", err)
		}
	}
	if b.moduleDir, err = filepath.Abs(o.ModuleDir); err != nil {
		return nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(b.moduleDir, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("dist: module source: %w", err)
	}
	if p := modfile.ModulePath(gomod); p != ModulePath {
		return nil, fmt.Errorf("dist: %s is module %q, not %s", b.moduleDir, p, ModulePath)
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if runtime.GOOS == "windows" {
			k = strings.ToUpper(k)
		}
		if strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") {
			continue
		}
		b.base = append(b.base, kv)
	}
	// The caller's settings, as the go command reads them (environment, then go env file).
	cmd := exec.CommandContext(ctx, b.goBin, append([]string{"env", "-json"}, goEnvKeys...)...)
	cmd.Env = append(slices.Clip(env), "GOTOOLCHAIN=local", "GOFLAGS=")
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dist: %s env: %w%s", b.goBin, err, stderrOf(err))
	}
	if err := json.Unmarshal(out, &b.goenv); err != nil {
		return nil, fmt.Errorf("dist: go env: %w", err)
	}
	if o.GOPROXY != "" {
		b.goenv["GOPROXY"] = o.GOPROXY
	}
	if o.GOCACHE != "" {
		b.goenv["GOCACHE"] = o.GOCACHE
	}
	if b.work = o.WorkDir; b.work == "" {
		if b.work, err = os.MkdirTemp("", "gostrap-dist-*"); err != nil {
			return nil, err
		}
		b.ownWork = true
	} else if b.work, err = filepath.Abs(b.work); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *builder) close() {
	if b.ownWork {
		os.RemoveAll(b.work)
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// env is the environment of every go command Build runs, before the step's own settings.
func (b *builder) env(kv ...string) []string {
	env := slices.Clone(b.base)
	env = append(env,
		"GOENV=off", "GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0",
		"GOROOT="+b.goenv["GOROOT"],
		"GOCACHE="+b.goenv["GOCACHE"],
		"GOMODCACHE="+filepath.Join(b.work, "mod"),
		"GOPATH="+filepath.Join(b.work, "gopath"),
	)
	return append(env, kv...)
}

// fetchEnv is for the steps that may download: module mode, go.sum enforced.
func (b *builder) fetchEnv() []string {
	kv := []string{"GOFLAGS=-mod=readonly -modcacherw", "GOPROXY=" + b.goenv["GOPROXY"]}
	for _, k := range fetchKeys {
		if v := b.goenv[k]; v != "" {
			kv = append(kv, k+"="+v)
		}
	}
	return b.env(kv...)
}

// platformEnv adds a platform's settings.
func (b *builder) platformEnv(env []string, p Platform) []string {
	env = append(env, "GOOS="+p.OS, "GOARCH="+p.Arch)
	if p.ARM != "" {
		env = append(env, "GOARM="+p.ARM)
	}
	return env
}

// goCmd runs the go command and returns its standard output.
func (b *builder) goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// each runs f for each platform, at most b.jobs at once, and returns the first error.
func (b *builder) each(ctx context.Context, ps []Platform, f func(Platform) error) error {
	errs := b.eachAll(ctx, ps, f)
	for _, e := range errs {
		if e != nil {
			return e.Err
		}
	}
	return nil
}

// eachAll runs f for each platform, at most b.jobs at once, and returns the failures.
func (b *builder) eachAll(ctx context.Context, ps []Platform, f func(Platform) error) []*PlatformError {
	sem := make(chan struct{}, b.jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []*PlatformError
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				failed = append(failed, &PlatformError{p, ctx.Err()})
				mu.Unlock()
				return
			}
			defer func() { <-sem }()
			if err := f(p); err != nil {
				mu.Lock()
				failed = append(failed, &PlatformError{p, err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(failed, func(a, b *PlatformError) int { return strings.Compare(a.Platform.String(), b.Platform.String()) })
	return failed
}

// archive makes the source archive (downloading the dependencies as it lists packages) and
// returns it with the files it holds.
func (b *builder) archive(ctx context.Context) ([]byte, []memFile, error) {
	start := time.Now()
	names, err := b.sourceFiles(ctx, Platforms)
	if err != nil {
		return nil, nil, fmt.Errorf("dist: listing the source: %w", err)
	}
	files, err := readFiles(b.moduleDir, names)
	if err != nil {
		return nil, nil, fmt.Errorf("dist: %w", err)
	}
	a, err := moduleZip(b.o.Version, files)
	if err != nil {
		return nil, nil, fmt.Errorf("dist: source archive: %w", err)
	}
	fmt.Fprintf(b.log, "dist: source archive: %d files, %d bytes (%v)\n", len(names), len(a), time.Since(start).Round(time.Millisecond))
	return a, files, nil
}

func (b *builder) build(ctx context.Context) (*Result, error) {
	ps := b.o.Platforms
	if len(ps) == 0 {
		ps = Platforms
	}
	for _, p := range ps {
		if _, err := ParsePlatform(p.String()); err != nil {
			return nil, fmt.Errorf("dist: %w", err)
		}
	}
	if b.o.Out == "" {
		return nil, errors.New("dist: no output directory")
	}
	out, err := filepath.Abs(b.o.Out)
	if err != nil {
		return nil, err
	}
	a, files, err := b.archive(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Version: b.o.Version, GoVersion: b.goenv["GOVERSION"], Archive: a}

	// The module as compiled: the archived files and the archive itself, served by a private
	// module proxy (the file:// layout of the GOPROXY protocol).
	files = append(files, memFile{ArchivePath, a})
	z, err := moduleZip(b.o.Version, files)
	if err != nil {
		return nil, fmt.Errorf("dist: module zip: %w", err)
	}
	proxy := filepath.Join(b.work, "proxy")
	esc, _ := module.EscapePath(ModulePath)
	vdir := filepath.Join(proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return nil, err
	}
	var gomod []byte
	for _, f := range files {
		if f.name == "go.mod" {
			gomod = f.data
		}
	}
	info, _ := json.Marshal(map[string]string{"Version": b.o.Version})
	for name, data := range map[string][]byte{
		"list": []byte(b.o.Version + "\n"), b.o.Version + ".info": info,
		b.o.Version + ".mod": gomod, b.o.Version + ".zip": z,
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	if res.Sum, err = dirhash.HashZip(filepath.Join(vdir, b.o.Version+".zip"), dirhash.Hash1); err != nil {
		return nil, err
	}
	if b.o.WantSum != "" && res.Sum != b.o.WantSum {
		return res, &SumMismatchError{Got: res.Sum, Want: b.o.WantSum}
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	sums := filepath.Join(out, SumsName)
	if err := os.Remove(sums); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	bins := map[Platform]Binary{}
	var mu sync.Mutex
	failed := b.eachAll(ctx, ps, func(p Platform) error {
		start := time.Now()
		bin, err := b.buildOne(ctx, p, proxy, out)
		if err != nil {
			fmt.Fprintf(b.log, "dist: %s FAILED (%v)\n", p, time.Since(start).Round(time.Millisecond))
			return err
		}
		fmt.Fprintf(b.log, "dist: %-15s %9d bytes  %s  (%v)\n", p, bin.Size, bin.SHA256[:16], time.Since(start).Round(time.Millisecond))
		mu.Lock()
		bins[p] = bin
		mu.Unlock()
		return nil
	})
	if len(failed) > 0 {
		return res, &BuildError{Failed: failed}
	}
	var lines bytes.Buffer
	for _, p := range Platforms {
		if bin, ok := bins[p]; ok {
			res.Binaries = append(res.Binaries, bin)
			fmt.Fprintf(&lines, "%s  %s\n", bin.SHA256, bin.Path)
		}
	}
	if err := writeFile(sums, lines.Bytes(), 0o644); err != nil {
		return res, err
	}
	return res, nil
}

// buildOne builds one platform and moves the binary to out.
func (b *builder) buildOne(ctx context.Context, p Platform, proxy, out string) (Binary, error) {
	gopath := filepath.Join(b.work, "gopath-"+p.Dir())
	env := b.env(
		"GOFLAGS=-modcacherw",
		"GOPROXY="+fileURL(proxy)+",off",
		"GOSUMDB=off",
		"GOPATH="+gopath, // after b.env's GOPATH: the last value wins
	)
	env = b.platformEnv(env, p)
	_, err := b.goCmd(ctx, b.work, env, "install", "-trimpath", "-ldflags=-s -w -buildid=", MainPackage+"@"+b.o.Version)
	if err != nil {
		return Binary{}, err
	}
	// go install puts a cross-compiled binary in bin/GOOS_GOARCH, a native one in bin.
	src := filepath.Join(gopath, "bin", p.OS+"_"+p.Arch, p.Exe())
	if _, err := os.Stat(src); err != nil {
		src = filepath.Join(gopath, "bin", p.Exe())
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return Binary{}, fmt.Errorf("go install left no binary: %w", err)
	}
	dst := filepath.Join(out, p.Dir(), p.Exe())
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Binary{}, err
	}
	if err := writeFile(dst, data, 0o755); err != nil {
		return Binary{}, err
	}
	os.RemoveAll(gopath)
	sum := sha256.Sum256(data)
	return Binary{Platform: p, Path: p.Path(), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// writeFile writes data beside path and renames it into place.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err1 := f.Close(); err == nil {
		err = err1
	}
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// fileURL is a file:// URL for an absolute path (C:\x becomes file:///C:/x).
func fileURL(p string) string {
	s := filepath.ToSlash(p)
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return (&url.URL{Scheme: "file", Path: s}).String()
}
