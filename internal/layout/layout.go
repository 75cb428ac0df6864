// Package layout is gostrap's place on disk: the install directory (toolchains, the current
// link, staging, locks, trash) and the cache directory (downloads with the record of their
// verification, fetched indexes, the checksum database's verified state, the rollback floor).
// docs/design.md, "On disk", describes both; this package is the only code that knows the
// paths. Every file is written beside its final name and renamed into place.
package layout

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// Layout is the install directory:
//
//	<Dir>/go1.N.M/            a toolchain (GOROOT), with .gostrap.json recording its origin
//	<Dir>/go1.N.M.os-arch/    a toolchain for another platform
//	<Dir>/current             link to the toolchain in use: a symlink; a junction on Windows
//	<Dir>/.gostrap/current    on Windows, the name of the toolchain in use (current.go)
//	<Dir>/.gostrap/lock       held while the set of toolchains or the current link changes
//	<Dir>/.gostrap/locks/V    held for the whole install of V
//	<Dir>/.gostrap/staging/   toolchains being extracted; renamed into place when verified
//	<Dir>/.gostrap/trash/     toolchains and links being removed; every run empties it
type Layout struct {
	Dir      string
	Platform mirror.Platform
	// Warnf, when set, receives what went wrong without failing the command: a trash that
	// could not be emptied, a <dir>/current that cannot exist on this file system.
	Warnf func(format string, args ...any)

	// mkJunction, when set, replaces the system's junction maker (tests run the Windows
	// scheme on any system with it).
	mkJunction func(link, target string) error
}

// Name is the directory name of version v for the layout's platform.
func (l Layout) Name(v string) string {
	if l.Platform == mirror.Host() {
		return v
	}
	return v + "." + l.Platform.OS + "-" + l.Platform.Arch
}

// GOROOT is where version v is installed.
func (l Layout) GOROOT(v string) string { return filepath.Join(l.Dir, l.Name(v)) }

// Current is the link to the toolchain in use.
func (l Layout) Current() string { return filepath.Join(l.Dir, "current") }

func (l Layout) state(elem ...string) string {
	return filepath.Join(append([]string{l.Dir, ".gostrap"}, elem...)...)
}

// LockDir takes the directory lock: short critical sections that change which toolchains
// exist or which is current.
func (l Layout) LockDir() (func(), error) {
	if err := os.MkdirAll(l.state(), 0o755); err != nil {
		return nil, &failure.DiskError{Op: "create", Path: l.state(), Err: err}
	}
	return Lock(context.Background(), l.state("lock"))
}

// LockVersion takes the lock for installing v: a second install of the same version waits, then
// finds it installed.
func (l Layout) LockVersion(v string) (func(), error) {
	return l.LockVersionContext(context.Background(), v)
}

// LockVersionContext is LockVersion that gives up waiting when ctx is done: an install
// interrupted while another process installs the same version stops at once.
func (l Layout) LockVersionContext(ctx context.Context, v string) (func(), error) {
	if err := os.MkdirAll(l.state("locks"), 0o755); err != nil {
		return nil, &failure.DiskError{Op: "create", Path: l.state("locks"), Err: err}
	}
	return Lock(ctx, l.state("locks", l.Name(v)+".lock"))
}

// NewStaging makes a fresh staging directory for v, removing what earlier runs that died
// mid-install of v left behind (the caller holds v's lock, so nobody else is using them).
func (l Layout) NewStaging(v string) (string, error) {
	dir := l.state("staging")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &failure.DiskError{Op: "create", Path: dir, Err: err}
	}
	if old, _ := filepath.Glob(filepath.Join(dir, l.Name(v)+"-*")); len(old) > 0 {
		for _, o := range old {
			RemoveAll(o)
		}
	}
	s, err := os.MkdirTemp(dir, l.Name(v)+"-")
	if err != nil {
		return "", &failure.DiskError{Op: "create", Path: dir, Err: err}
	}
	// MkdirTemp makes the directory private; it becomes the GOROOT, readable like any other.
	if err := os.Chmod(s, 0o755); err != nil {
		os.Remove(s)
		return "", &failure.DiskError{Op: "chmod", Path: s, Err: err}
	}
	return s, nil
}

// Meta records where an installed toolchain came from. It is written into the staging tree
// before the rename, so its presence means the tree is complete.
type Meta struct {
	Version     string          `json:"version"`
	Platform    string          `json:"platform"`
	Source      SourceRef       `json:"source"`
	Verified    verify.Verified `json:"verified"`
	InstalledAt time.Time       `json:"installed_at"`
}

// SourceRef names where installed bytes came from.
type SourceRef struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// MetaFile is the record of an install, at the top of its tree.
const MetaFile = ".gostrap.json"

// Installed is one toolchain in the directory.
type Installed struct {
	Version  string `json:"version"`
	Platform string `json:"platform"`
	GOROOT   string `json:"goroot"`
	Current  bool   `json:"current"`
	Meta     *Meta  `json:"meta,omitempty"`
}

// Intact reports whether v is installed completely: its metadata, VERSION and go command
// are where an install leaves them.
func (l Layout) Intact(v string) (*Meta, bool) {
	root := l.GOROOT(v)
	data, err := os.ReadFile(filepath.Join(root, MetaFile))
	if err != nil {
		return nil, false
	}
	var m Meta
	if json.Unmarshal(data, &m) != nil || m.Version != v {
		return nil, false
	}
	if got, err := ReadVERSION(root); err != nil || got != v {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "go"+ExeSuffix(l.Platform))); err != nil {
		return nil, false
	}
	return &m, true
}

func ExeSuffix(p mirror.Platform) string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// ReadVERSION returns the first line of a Go tree's VERSION file.
func ReadVERSION(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if s.Scan() {
		return strings.TrimSpace(s.Text()), nil
	}
	return "", errors.New("empty VERSION file")
}

// Commit renames a verified staging tree into place as v. When v is already installed and
// intact (another process won the race), the staging tree is removed and false returned. A
// present but broken tree is moved to the trash first; on any failure the previous state
// stays as it was. Either way v then becomes current when makeCurrent is set or nothing is
// current, and a broken <dir>/current is repaired.
func (l Layout) Commit(staging, v string, makeCurrent bool) (installed bool, err error) {
	defer l.emptyTrash()
	unlock, err := l.LockDir()
	if err != nil {
		return false, err
	}
	defer unlock()
	target := l.GOROOT(v)
	if _, ok := l.Intact(v); ok {
		RemoveAll(staging)
		return false, l.settleCurrent(v, makeCurrent)
	}
	var trashed string
	if _, err := os.Lstat(target); err == nil {
		trashed, err = l.trash(target)
		if err != nil {
			return false, err
		}
	}
	Checkpoint("before-rename")
	if err := Rename(staging, target); err != nil {
		if trashed != "" {
			Rename(trashed, target)
		}
		return false, &failure.DiskError{Op: "rename", Path: target, Err: err}
	}
	Checkpoint("after-rename")
	return true, l.settleCurrent(v, makeCurrent)
}

func (l Layout) trash(path string) (string, error) {
	dir := l.state("trash")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &failure.DiskError{Op: "create", Path: dir, Err: err}
	}
	t := filepath.Join(dir, filepath.Base(path)+"-"+randSuffix())
	if err := Rename(path, t); err != nil {
		return "", &failure.DiskError{Op: "rename", Path: path, Err: err}
	}
	return t, nil
}

func randSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// List returns the toolchains installed for the layout's platform, oldest first.
func (l Layout) List() ([]Installed, error) {
	ents, err := os.ReadDir(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &failure.DiskError{Op: "read", Path: l.Dir, Err: err}
	}
	cur := l.CurrentVersion()
	var vs []string
	byName := map[string]*Meta{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		v := e.Name()
		if l.Platform != mirror.Host() {
			var ok bool
			v, ok = strings.CutSuffix(v, "."+l.Platform.OS+"-"+l.Platform.Arch)
			if !ok {
				continue
			}
		}
		if !mirror.IsRelease(v) {
			continue
		}
		if m, ok := l.Intact(v); ok {
			vs = append(vs, v)
			byName[v] = m
		}
	}
	mirror.SortVersions(vs)
	out := make([]Installed, 0, len(vs))
	for _, v := range vs {
		out = append(out, Installed{Version: v, Platform: l.Platform.String(), GOROOT: l.GOROOT(v),
			Current: l.Platform == mirror.Host() && l.Name(v) == cur, Meta: byName[v]})
	}
	return out, nil
}

// ListAll returns the toolchains installed for every platform: this machine's first, then the
// others by platform, each oldest first. A toolchain installed with --arch arm64 is as much a
// part of the directory as one for the host.
func (l Layout) ListAll() ([]Installed, error) {
	ents, err := os.ReadDir(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &failure.DiskError{Op: "read", Path: l.Dir, Err: err}
	}
	platforms := []mirror.Platform{mirror.Host()}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || mirror.IsRelease(name) {
			continue
		}
		// go1.N.M.os-arch: the version is a release, the suffix a known platform.
		i := strings.LastIndexByte(name, '.')
		if i < 0 || !mirror.IsRelease(name[:i]) {
			continue
		}
		goos, goarch, ok := strings.Cut(name[i+1:], "-")
		p := mirror.Platform{OS: goos, Arch: goarch}
		if ok && p.Check() == nil && !slices.Contains(platforms, p) {
			platforms = append(platforms, p)
		}
	}
	slices.SortFunc(platforms[1:], func(a, b mirror.Platform) int { return strings.Compare(a.String(), b.String()) })
	var out []Installed
	for _, p := range platforms {
		lp := l
		lp.Platform = p
		list, err := lp.List()
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// NotInstalledError is a command about a version that is not installed.
type NotInstalledError struct{ Version string }

func (e *NotInstalledError) Error() string {
	if e.Version == "" {
		return "no toolchain is current"
	}
	return e.Version + " is not installed"
}

func (e *NotInstalledError) Hint() string {
	if e.Version == "" {
		return "run 'gostrap install' first, or 'gostrap use VERSION'"
	}
	return "run 'gostrap install " + strings.TrimPrefix(e.Version, "go") + "' first, or see 'gostrap list'"
}

// Find resolves a version request against the installed toolchains: the newest that matches
// (1.22 is the newest 1.22.x installed).
func (l Layout) Find(raw string) (string, error) {
	spec, err := mirror.ParseSpec(raw)
	if err != nil {
		return "", err
	}
	return l.FindSpec(spec)
}

// FindSpec is Find for a parsed request.
func (l Layout) FindSpec(spec mirror.Spec) (string, error) {
	list, err := l.List()
	if err != nil {
		return "", err
	}
	var vs []mirror.Version
	for _, i := range list {
		vs = append(vs, mirror.Version{Version: i.Version, Stable: mirror.IsStable(i.Version)})
	}
	v, err := mirror.Resolve(spec, vs)
	if err != nil {
		name := spec.Version
		if name == "" {
			name = "latest"
		}
		return "", &NotInstalledError{Version: name}
	}
	return v, nil
}

// Match lists every installed toolchain a request could mean, pre-releases included: for a
// command that destroys, "1.22" must name one toolchain, not pick the newest of several.
func (l Layout) Match(spec mirror.Spec) ([]string, error) {
	list, err := l.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, i := range list {
		switch {
		case spec.Kind == mirror.Latest,
			spec.Kind == mirror.Exact && i.Version == spec.Version,
			spec.Kind == mirror.Line && version.Lang(i.Version) == spec.Version:
			out = append(out, i.Version)
		}
	}
	return out, nil
}

// AmbiguousError is a request that matches several installed toolchains where one is needed.
type AmbiguousError struct {
	Raw     string
	Matches []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q matches %s: name one", e.Raw, strings.Join(e.Matches, ", "))
}

func (e *AmbiguousError) Hint() string {
	return "give the exact version, e.g. gostrap uninstall " + strings.TrimPrefix(e.Matches[len(e.Matches)-1], "go")
}

// CurrentError is a refusal to remove the current toolchain without --force: every shell whose
// PATH holds <dir>/current would lose its go command.
type CurrentError struct {
	Version string
	// Next is what --force would make current instead ("" when nothing else is installed).
	Next string
}

func (e *CurrentError) Error() string {
	return e.Version + " is the current toolchain"
}

func (e *CurrentError) Hint() string {
	if e.Next == "" {
		return "pass --force to remove it anyway (no toolchain will be current), or install another first"
	}
	return "switch first (gostrap use " + strings.TrimPrefix(e.Next, "go") + "), or pass --force to remove it and make " + e.Next + " current"
}

// Use makes an installed version current.
func (l Layout) Use(raw string) (string, error) {
	v, err := l.Find(raw)
	if err != nil {
		return "", err
	}
	defer l.emptyTrash()
	unlock, err := l.LockDir()
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, ok := l.Intact(v); !ok {
		return "", &NotInstalledError{Version: v}
	}
	l.removeStaleLinks()
	return v, l.SetCurrent(v)
}

// Removal is what Uninstall did.
type Removal struct {
	Version string `json:"version"`
	// WasCurrent: the removed toolchain was the current one (only ever with force).
	WasCurrent bool `json:"was_current"`
	// Current is the toolchain current now, when the removal changed it ("" for none).
	Current string `json:"current,omitempty"`
}

// Uninstall removes the one installed toolchain raw names. The current toolchain is removed
// only with force; the newest remaining release then becomes current (stable preferred), so
// that <dir>/current never dangles. The tree is first renamed out of the way, so that it
// disappears at once and a crash midway leaves only trash.
func (l Layout) Uninstall(raw string, force bool) (*Removal, error) {
	spec, err := mirror.ParseSpec(raw)
	if err != nil {
		return nil, err
	}
	matches, err := l.Match(spec)
	if err != nil {
		return nil, err
	}
	switch {
	case len(matches) == 0:
		name := spec.Version
		if name == "" {
			name = "latest"
		}
		return nil, &NotInstalledError{Version: name}
	case len(matches) > 1:
		return nil, &AmbiguousError{Raw: raw, Matches: matches}
	}
	v := matches[0]
	unlockV, err := l.LockVersion(v)
	if err != nil {
		return nil, err
	}
	defer unlockV()
	defer l.emptyTrash() // the toolchain, once the lock is released
	unlock, err := l.LockDir()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Lstat(l.GOROOT(v)); err != nil {
		return nil, &NotInstalledError{Version: v}
	}
	rm := &Removal{Version: v, WasCurrent: l.Platform == mirror.Host() && l.CurrentVersion() == l.Name(v)}
	next := ""
	if rm.WasCurrent {
		next = l.newestExcept(v)
		if !force {
			return nil, &CurrentError{Version: v, Next: next}
		}
	}
	if _, err := l.trash(l.GOROOT(v)); err != nil {
		return nil, err
	}
	if rm.WasCurrent {
		if next != "" {
			if err := l.SetCurrent(next); err != nil {
				return rm, err
			}
			rm.Current = next
		} else if err := l.clearCurrent(); err != nil {
			return rm, err
		}
	}
	return rm, nil
}

// newestExcept is the toolchain to make current when v goes: the newest stable release
// installed, else the newest pre-release.
func (l Layout) newestExcept(v string) string {
	list, _ := l.List()
	best, bestStable := "", false
	for _, i := range list {
		if i.Version == v {
			continue
		}
		stable := mirror.IsStable(i.Version)
		if best == "" || stable && !bestStable || stable == bestStable && mirror.CompareVersions(i.Version, best) > 0 {
			best, bestStable = i.Version, stable
		}
	}
	return best
}

// CurrentGOROOT returns the current toolchain's version and the GOROOT a shell should get for
// it: <dir>/current when that link leads to it (a later 'gostrap use' then takes effect), else
// the toolchain's own directory (a file system without junctions, a broken link).
func (l Layout) CurrentGOROOT() (root, version string, err error) {
	if !l.HasCurrent() {
		return "", "", &NotInstalledError{}
	}
	version = l.CurrentVersion()
	if link, ok := l.CurrentLink(); ok {
		return link, version, nil
	}
	return l.GOROOT(version), version, nil
}

// Lock takes the file lock at path, shared with every gostrap process, giving up when ctx is
// done (a lock acquired after that is released at once).
func Lock(ctx context.Context, path string) (func(), error) {
	type result struct {
		unlock func()
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		u, err := lockedfile.MutexAt(path).Lock()
		ch <- result{u, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, &failure.DiskError{Op: "lock", Path: path, Err: r.err}
		}
		return r.unlock, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.unlock()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// CrashEnv names the checkpoint at which a crash test wants the process killed, and HangEnv
// one at which it wants the process stuck.
const (
	CrashEnv = "GOSTRAP_CRASH_AT"
	HangEnv  = "GOSTRAP_TEST_HANG_AT"
)

// Checkpoint is the crash-test hook: when GOSTRAP_CRASH_AT names this point, the process kills
// itself there, as a power cut would, so the tests can check what the next run finds.
func Checkpoint(name string) {
	if os.Getenv(HangEnv) == name {
		// A step that ignores cancellation, for the test that a second interrupt ends the
		// process anyway.
		select {}
	}
	if at := os.Getenv(CrashEnv); at != "" && at == name {
		p, _ := os.FindProcess(os.Getpid())
		if runtime.GOOS == "windows" {
			os.Exit(137)
		}
		p.Kill()
		select {}
	}
}
