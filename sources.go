package gostrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// Kind is a kind of source (docs/design.md, "Sources").
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

// Source is one configured place to get Go from.
type Source struct {
	Kind Kind
	// URL is the base URL (official, mirror), the GOPROXY list (proxy) or the path (bundle).
	URL string
	// Builtin marks sources from the catalogue rather than the user's configuration.
	Builtin bool
	proxies mirror.ProxyList
}

func (s *Source) String() string { return string(s.Kind) + " " + failure.Redact(s.URL) }

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
	} else if slices.Contains(kinds, KindOfficial) || slices.Contains(kinds, KindMirror) {
		// Official indexes serve official bytes, and vouch for mirrors' archives; with neither
		// kind asked for, they are not contacted at all.
		for _, u := range configured(in.opts.Official, mirror.CatalogueOfficial) {
			set.Official = append(set.Official, &Source{Kind: KindOfficial, URL: mirror.NormalizeBase(u.url), Builtin: u.builtin})
		}
		if !slices.Contains(kinds, KindOfficial) && len(set.Official) > 0 {
			in.logf("--sources has no official: the official index is asked only to vouch for the mirrors' archives")
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
//
// The go command is asked (a subprocess) only when GOPROXY is given neither as an option nor in
// the environment: a GOPROXY given means the user said where modules come from.
func (in *Installer) goEnv(ctx context.Context) map[string]string {
	in.envOnce.Do(func() {
		in.env = in.givenEnv()
		if in.env["GOPROXY"] != "" {
			return
		}
		var ask []string
		for _, k := range []string{"GOPROXY", "GOSUMDB"} {
			if in.env[k] == "" {
				ask = append(ask, k)
			}
		}
		for k, v := range mirror.GoEnv(ctx, ask...) {
			in.env[k] = v
		}
	})
	return in.env
}

// givenEnv is GOPROXY and GOSUMDB as the options, else the environment, give them.
func (in *Installer) givenEnv() map[string]string {
	env := map[string]string{"GOPROXY": in.opts.GOPROXY, "GOSUMDB": in.opts.GOSUMDB}
	for k, v := range env {
		if v == "" {
			env[k] = os.Getenv(k)
		}
	}
	return env
}

func (in *Installer) proxyList(ctx context.Context) (mirror.ProxyList, bool, error) {
	v := in.goEnv(ctx)["GOPROXY"]
	if v == "" {
		return mirror.CatalogueProxies, true, nil
	}
	list, err := mirror.ParseGOPROXY(v)
	if err != nil {
		return nil, false, err
	}
	return list, false, nil
}

// SumDB returns the checksum-database client, configured from GOSUMDB and reached through the
// GOPROXY list (or nothing, offline), its verified state kept in the cache. A configuration
// error is returned every time; the client, once built, is shared by the run.
func (in *Installer) SumDB(ctx context.Context) (*verify.SumDB, error) {
	in.sumdbMu.Lock()
	defer in.sumdbMu.Unlock()
	if in.sumdb != nil {
		return in.sumdb, nil
	}
	db, remote, err := in.sumdbRemote(ctx)
	if err != nil {
		return nil, err
	}
	if db.Ignored != "" {
		in.logf("%s ignored for golang.org/toolchain: toolchains are always checked against %s, as the go command does", db.Ignored, db.Name)
	}
	in.sumdb = verify.NewSumDB(db, remote, in.cache.SumDB())
	return in.sumdb, nil
}

// sumdbRemote is the database GOSUMDB names and how it is reached: through the GOPROXY list as
// the go command reaches it, or not at all offline.
func (in *Installer) sumdbRemote(ctx context.Context) (verify.DB, verify.Remote, error) {
	db, err := verify.ParseGOSUMDB(in.goEnv(ctx)["GOSUMDB"])
	if err != nil {
		return db, nil, err
	}
	if in.opts.Offline {
		return db, func(context.Context, string) ([]byte, error) { return nil, verify.ErrOffline }, nil
	}
	list, _, err := in.proxyList(ctx)
	if err != nil {
		return db, nil, err
	}
	return db, (&mirror.SumDBRemote{Client: in.client, Proxies: list, Name: db.Name, URL: db.URL}).Read, nil
}
