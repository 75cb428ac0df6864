// Package gostrap installs Go toolchains where it is hard: behind firewalls and TLS-inspecting
// proxies, where the official site is blocked, from offline bundles, and in CI.
//
// One install is one pass (docs/design.md): resolve the version from the first index that answers,
// plan the candidates (source, URL, and the trust root that will vouch for the bytes), then for
// each candidate until one succeeds: download with retry and resume, extract into a staging
// directory while the bytes stream, verify, and only then rename into place under a lock. The
// report says what was tried, why each attempt failed (with a stable class and a hint), what was
// installed and how it was verified.
//
// The CLI in cmd/gostrap is a thin shell over Installer.
package gostrap

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// Options configure an Installer. The CLI fills them from flags and environment variables.
type Options struct {
	// Dir holds the installed toolchains (<Dir>/go1.N.M) and the current link.
	Dir string
	// CacheDir holds downloads, indexes and the checksum database's verified state.
	CacheDir string

	// Official are official download sites (index + archives). Nil means the catalogue;
	// "off" disables the kind.
	Official []string
	// Mirrors are flat mirrors, tried in order. Nil means the catalogue; "off" disables.
	Mirrors []string
	// GOPROXY is the module proxy list; empty means the environment, then `go env GOPROXY`,
	// then the catalogue.
	GOPROXY string
	// GOSUMDB names the checksum database; empty means the environment, then `go env`.
	GOSUMDB string
	// Bundles are offline bundles (directories or archives).
	Bundles []string
	// Sources restricts and orders the kinds tried.
	Sources []Kind

	Platform mirror.Platform
	// Offline uses only bundles and the local cache.
	Offline bool
	// InsecureTrustMirror accepts a mirror's own checksum when nothing trusted vouches.
	InsecureTrustMirror bool
	// Use makes the installed version current even when another one is.
	Use bool
	// AllowDowngrade accepts an index whose newest release is older than one installed here
	// before (otherwise refused as a rollback).
	AllowDowngrade bool

	// Download configures the HTTP client.
	Download download.Config
	// Log receives human-readable progress lines; nil discards them.
	Log io.Writer
	// IndexTTL is how long a fetched index is reused (default 15 minutes).
	IndexTTL time.Duration
	// ProbeTimeout bounds each probe stage (DNS, TCP, TLS; HTTP gets twice as long). Default 3s.
	ProbeTimeout time.Duration
	// SourceTimeout bounds one candidate's download, verification and extraction. Default 10m.
	SourceTimeout time.Duration
	// NoProbe skips the probe phase: sources are tried in the configured order.
	NoProbe bool
}

// Installer installs, lists, switches and removes toolchains in one directory.
type Installer struct {
	opts   Options
	client *download.Client
	layout layout.Layout
	cache  layout.Cache

	envOnce sync.Once
	env     map[string]string

	sumdbMu sync.Mutex
	sumdb   *verify.SumDB
}

// New returns an Installer for opts.
func New(opts Options) (*Installer, error) {
	if opts.Dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	if opts.CacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = d
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if opts.Platform == (mirror.Platform{}) {
		opts.Platform = mirror.Host()
	}
	if err := opts.Platform.Check(); err != nil {
		return nil, err
	}
	if len(opts.Sources) == 0 {
		opts.Sources = DefaultSources
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.IndexTTL == 0 {
		opts.IndexTTL = 15 * time.Minute
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 3 * time.Second
	}
	if opts.SourceTimeout <= 0 {
		opts.SourceTimeout = 10 * time.Minute
	}
	if opts.Download.Logf == nil {
		log := opts.Log
		opts.Download.Logf = func(format string, args ...any) { fmt.Fprintf(log, "gostrap: "+format+"\n", args...) }
	}
	c, err := download.New(opts.Download)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	warnf := func(format string, args ...any) { fmt.Fprintf(log, "gostrap: warning: "+format+"\n", args...) }
	return &Installer{opts: opts, client: c, layout: layout.Layout{Dir: opts.Dir, Platform: opts.Platform, Warnf: warnf},
		cache: layout.Cache{Dir: opts.CacheDir}}, nil
}

// Dir is the install directory.
func (in *Installer) Dir() string { return in.opts.Dir }

// DefaultDir is GOSTRAP_DIR's default: the XDG data directory (~/.local/share/gostrap), and on
// Windows %LOCALAPPDATA%\gostrap.
//
// On Windows the install directory and the cache would both be %LOCALAPPDATA%\gostrap (the
// user cache directory is %LOCALAPPDATA% there), their files mixed in one folder. The cache
// moves into a folder of its own, %LOCALAPPDATA%\gostrap\cache, and the install directory stays
// where it was, so that a PATH entry made for %LOCALAPPDATA%\gostrap\current\bin keeps working
// and one folder holds all that gostrap keeps for a user. Unix keeps its two directories
// (~/.local/share/gostrap and ~/.cache/gostrap; macOS ~/Library/Caches/gostrap).
func DefaultDir() (string, error) { return defaultDir(runtime.GOOS, os.Getenv, os.UserHomeDir) }

func defaultDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "gostrap"), nil
	}
	if goos == "windows" {
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "gostrap"), nil
		}
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("no install directory: set GOSTRAP_DIR or --dir (%v)", err)
	}
	if goos == "windows" {
		return filepath.Join(h, "AppData", "Local", "gostrap"), nil
	}
	return filepath.Join(h, ".local", "share", "gostrap"), nil
}

// DefaultCacheDir is GOSTRAP_CACHE's default: the user cache directory's gostrap folder, and on
// Windows %LOCALAPPDATA%\gostrap\cache (see DefaultDir).
func DefaultCacheDir() (string, error) {
	return defaultCacheDir(runtime.GOOS, os.Getenv, os.UserCacheDir)
}

func defaultCacheDir(goos string, getenv func(string) string, userCache func() (string, error)) (string, error) {
	if d := getenv("GOSTRAP_CACHE"); d != "" {
		return d, nil
	}
	d, err := userCache()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set GOSTRAP_CACHE (%v)", err)
	}
	if goos == "windows" {
		return filepath.Join(d, "gostrap", "cache"), nil
	}
	return filepath.Join(d, "gostrap"), nil
}

func (in *Installer) logf(format string, args ...any) {
	fmt.Fprintf(in.opts.Log, "gostrap: "+format+"\n", args...)
}
