// Package gostrap installs Go toolchains where it is hard: behind firewalls and TLS-inspecting
// proxies, where the official site is blocked, from offline bundles, and in CI.
//
// One install is one pass (DESIGN.md): resolve the version from the first index that answers,
// plan the candidates (source, URL, and the trust root that will vouch for the bytes), then for
// each candidate until one succeeds: download with retry and resume, extract into a staging
// directory while the bytes stream, verify, and only then rename into place under a lock. The
// report says what was tried, why each attempt failed (with a stable class and a hint), what was
// installed and how it was verified.
//
// The CLI in cmd/gostrap is a thin shell over Installer.
package gostrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// Kind is a kind of source (DESIGN.md, Sources).
type Kind string

const (
	KindOfficial Kind = "official"
	KindMirror   Kind = "mirror"
	KindProxy    Kind = "proxy"
	KindBundle   Kind = "bundle"
	// KindCache is this machine's download cache: archives verified by earlier runs. It is a
	// source only with --offline; online, a cached download is reused by whichever source
	// would have fetched it.
	KindCache Kind = "cache"
)

// DefaultSources is the order sources are tried in unless --sources says otherwise.
var DefaultSources = []Kind{KindOfficial, KindMirror, KindProxy, KindBundle}

// ParseSources parses a --sources list such as "proxy,official".
func ParseSources(s string) ([]Kind, error) {
	var out []Kind
	seen := map[Kind]bool{}
	for _, f := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(f))
		if k == "" {
			continue
		}
		switch k {
		case KindOfficial, KindMirror, KindProxy, KindBundle:
		default:
			return nil, fmt.Errorf("unknown source kind %q: want official, mirror, proxy or bundle", k)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--sources names no source kind")
	}
	return out, nil
}

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
	layout Layout

	envOnce sync.Once
	env     map[string]string

	sumdbOnce sync.Once
	sumdb     *verify.SumDB
	sumdbErr  error
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
	return &Installer{opts: opts, client: c, layout: Layout{Dir: opts.Dir, Platform: opts.Platform}}, nil
}

// Dir is the install directory.
func (in *Installer) Dir() string { return in.opts.Dir }

// Client is the HTTP client the installer uses.
func (in *Installer) Client() *download.Client { return in.client }

// DefaultDir is GOSTRAP_DIR's default: the XDG data directory (~/.local/share/gostrap), or the
// platform's local application data directory on Windows.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "gostrap"), nil
	}
	if d := os.Getenv("LOCALAPPDATA"); d != "" {
		return filepath.Join(d, "gostrap"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no install directory: set GOSTRAP_DIR or --dir (%v)", err)
	}
	return filepath.Join(home, ".local", "share", "gostrap"), nil
}

// DefaultCacheDir is GOSTRAP_CACHE's default: the user cache directory's gostrap folder.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("GOSTRAP_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set GOSTRAP_CACHE (%v)", err)
	}
	return filepath.Join(d, "gostrap"), nil
}

func (in *Installer) logf(format string, args ...any) {
	fmt.Fprintf(in.opts.Log, "gostrap: "+format+"\n", args...)
}

// Source is one configured place to get Go from.
type Source struct {
	Kind Kind
	// URL is the base URL (official, mirror), the GOPROXY list (proxy) or the path (bundle).
	URL string
	// Builtin marks sources from the catalogue rather than the user's configuration.
	Builtin bool
	proxies mirror.ProxyList
}

func (s *Source) String() string { return string(s.Kind) + " " + download.Redact(s.URL) }

// Sources is the configuration seen as sources.
type Sources struct {
	// Order lists where bytes may come from, in the order they are tried (--sources).
	Order []*Source
	// Official lists the official sites, whose indexes are trust roots and resolve versions
	// whether or not the official kind serves bytes in this run (--sources mirror still
	// checks a mirror's archive against the official index). Empty with --offline.
	Official []*Source
}

// Sources returns the configured sources.
func (in *Installer) Sources(ctx context.Context) (*Sources, error) {
	set := &Sources{}
	kinds := in.opts.Sources
	if in.opts.Offline {
		kinds = []Kind{KindBundle, KindCache}
	} else {
		for _, u := range configured(in.opts.Official, mirror.CatalogueOfficial) {
			set.Official = append(set.Official, &Source{Kind: KindOfficial, URL: mirror.NormalizeBase(u.url), Builtin: u.builtin})
		}
	}
	for _, k := range kinds {
		switch k {
		case KindOfficial:
			set.Order = append(set.Order, set.Official...)
		case KindMirror:
			for _, u := range configured(in.opts.Mirrors, mirror.CatalogueMirrors) {
				set.Order = append(set.Order, &Source{Kind: k, URL: mirror.NormalizeBase(u.url), Builtin: u.builtin})
			}
		case KindProxy:
			list, builtin, err := in.proxyList(ctx)
			if err != nil {
				return nil, err
			}
			if list != nil && !list.Off() {
				set.Order = append(set.Order, &Source{Kind: k, URL: list.String(), Builtin: builtin, proxies: list})
			}
		case KindBundle:
			bundles := in.opts.Bundles
			if len(bundles) == 0 && in.opts.Offline {
				bundles = offline.Locate(offline.MediaPatterns())
			}
			for _, b := range bundles {
				set.Order = append(set.Order, &Source{Kind: k, URL: b})
			}
		case KindCache:
			set.Order = append(set.Order, &Source{Kind: k, URL: filepath.Join(in.opts.CacheDir, "dl")})
		}
	}
	return set, nil
}

// indexOrder is the order indexes are asked to resolve a version: the sources in order, then
// the official sites that serve no bytes in this run.
func (s *Sources) indexOrder() []*Source {
	out := slices.Clone(s.Order)
	for _, o := range s.Official {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

type configuredURL struct {
	url     string
	builtin bool
}

// configured returns the user's list, or the catalogue when the user gave none; "off"
// anywhere in the user's list disables the kind.
func configured(user, catalogue []string) []configuredURL {
	var out []configuredURL
	if user == nil {
		for _, u := range catalogue {
			out = append(out, configuredURL{u, true})
		}
		return out
	}
	for _, u := range user {
		for _, u := range strings.Split(u, ",") {
			u = strings.TrimSpace(u)
			if u == "off" {
				return nil
			}
			if u != "" {
				out = append(out, configuredURL{u, false})
			}
		}
	}
	return out
}

// goEnv returns GOPROXY and GOSUMDB as the go command sees them, options first. GONOSUMDB
// is not read: it never exempts golang.org/toolchain.
func (in *Installer) goEnv(ctx context.Context) map[string]string {
	in.envOnce.Do(func() {
		in.env = map[string]string{"GOPROXY": in.opts.GOPROXY, "GOSUMDB": in.opts.GOSUMDB}
		var ask []string
		for k, v := range in.env {
			if v == "" {
				ask = append(ask, k)
			}
		}
		if len(ask) > 0 {
			for k, v := range mirror.GoEnv(ctx, ask...) {
				in.env[k] = v
			}
		}
	})
	return in.env
}

func (in *Installer) proxyList(ctx context.Context) (mirror.ProxyList, bool, error) {
	v := in.goEnv(ctx)["GOPROXY"]
	builtin := false
	if v == "" {
		v, builtin = mirror.CatalogueProxies, true
	}
	list, err := mirror.ParseGOPROXY(v)
	if err != nil {
		return nil, false, err
	}
	return list, builtin, nil
}

// SumDB returns the checksum-database client, configured from GOSUMDB and reached through the
// GOPROXY list.
func (in *Installer) SumDB(ctx context.Context) (*verify.SumDB, error) {
	in.sumdbOnce.Do(func() {
		env := in.goEnv(ctx)
		db, err := verify.ParseGOSUMDB(env["GOSUMDB"])
		if err != nil {
			in.sumdbErr = err
			return
		}
		if db.Ignored != "" {
			in.logf("%s ignored for golang.org/toolchain: toolchains are always checked against %s, as the go command does", db.Ignored, db.Name)
		}
		list, _, err := in.proxyList(ctx)
		if err != nil {
			in.sumdbErr = err
			return
		}
		in.sumdb = verify.NewSumDB(verify.SumDBOptions{
			DB:       db,
			Proxies:  list,
			Client:   in.client,
			CacheDir: filepath.Join(in.opts.CacheDir, "sumdb"),
			Offline:  in.opts.Offline,
		})
	})
	return in.sumdb, in.sumdbErr
}
