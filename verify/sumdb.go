package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
)

// SumGolangOrgKey is the verifier key of sum.golang.org, as built into the go command.
const SumGolangOrgKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

// DB names one checksum database: its verifier key and, optionally, the URL to reach it at
// (bypassing the proxies).
type DB struct {
	Name string
	Key  string
	URL  string
	// Ignored is set when GOSUMDB said "off": the toolchain is checked against sum.golang.org
	// anyway, as the go command does, and the caller says so.
	Ignored string
}

// ParseGOSUMDB parses GOSUMDB as the go command does: empty for sum.golang.org, a known name,
// a verifier key, or "key url". "off" is not honoured for toolchains.
func ParseGOSUMDB(s string) (DB, error) {
	s = strings.TrimSpace(s)
	var ignored string
	if s == "" || s == "off" {
		ignored = s
		s = "sum.golang.org"
	}
	if s == "sum.golang.google.cn" {
		s = "sum.golang.org https://sum.golang.google.cn"
	}
	f := strings.Fields(s)
	if len(f) > 2 {
		return DB{}, fmt.Errorf("invalid GOSUMDB %q: too many fields", s)
	}
	if f[0] == "sum.golang.org" {
		f[0] = SumGolangOrgKey
	}
	v, err := note.NewVerifier(f[0])
	if err != nil {
		return DB{}, fmt.Errorf("invalid GOSUMDB %q: %v", s, err)
	}
	name := v.Name()
	u, err := url.Parse("https://" + name)
	if err != nil || strings.HasSuffix(name, "/") || u.Host == "" || u.RawPath != "" ||
		*u != (url.URL{Scheme: "https", Host: u.Host, Path: u.Path}) {
		return DB{}, fmt.Errorf("invalid sumdb name (must be host[/path]): %s", name)
	}
	db := DB{Name: name, Key: f[0]}
	if ignored == "off" {
		db.Ignored = "GOSUMDB=off"
	}
	if len(f) == 2 {
		if _, err := url.Parse(f[1]); err != nil {
			return DB{}, fmt.Errorf("invalid GOSUMDB URL %q: %v", f[1], err)
		}
		db.URL = strings.TrimSuffix(f[1], "/")
	}
	return db, nil
}

// Remote reads a path of the checksum database's protocol (/lookup/..., /tile/..., /latest).
type Remote func(ctx context.Context, path string) ([]byte, error)

// SumDB looks toolchain hashes up in the checksum database.
type SumDB struct {
	db DB
	// remote reaches the database; nil means through the proxies or directly.
	remote Remote
	// cacheDir keeps the verified latest tree head and tiles; empty keeps them in memory for
	// the life of the SumDB (offline bundle checks, which must not trust this machine's state).
	cacheDir string
	proxies  mirror.ProxyList
	client   *download.Client
	// Offline forbids the network: only what the cache holds can verify.
	offline bool

	baseOnce sync.Once
	base     string
	baseErr  error

	memMu sync.Mutex
	mem   map[string][]byte
}

// SumDBOptions configures NewSumDB.
type SumDBOptions struct {
	DB       DB
	Proxies  mirror.ProxyList
	Client   *download.Client
	CacheDir string
	Offline  bool
	// Remote overrides how the database is reached (a bundle directory, a recorder).
	Remote Remote
}

// NewSumDB returns a checksum-database client.
func NewSumDB(o SumDBOptions) *SumDB {
	return &SumDB{db: o.DB, remote: o.Remote, cacheDir: o.CacheDir, proxies: o.Proxies, client: o.Client,
		offline: o.Offline, mem: map[string][]byte{}}
}

// Name is the database's name (sum.golang.org).
func (s *SumDB) Name() string { return s.db.Name }

// Key is the verifier key.
func (s *SumDB) Key() string { return s.db.Key }

// DB is the database this client trusts.
func (s *SumDB) DB() DB { return s.db }

// MaxSumDBDoc caps a lookup, tile or tree head.
const MaxSumDBDoc = 1 << 20

// ErrOffline is a lookup that needed the network in offline mode.
var ErrOffline = errors.New("checksum database not in the local cache and --offline forbids the network")

// Lookup returns the h1 hash the log records for the module zip path@version.
func (s *SumDB) Lookup(ctx context.Context, path, version string) (string, error) {
	o := &ops{s: s, ctx: ctx}
	c := sumdb.NewClient(o)
	lines, err := c.Lookup(path, version)
	if err != nil {
		if errors.Is(err, sumdb.ErrSecurity) || len(o.security) > 0 {
			return "", &SecurityError{Detail: strings.Join(o.security, "\n")}
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		if o.remoteErr != nil {
			// Keep the network error's type, so that an unreachable database is classified
			// as the DNS, TLS or proxy failure it is.
			return "", fmt.Errorf("checksum database %s: %w", s.db.Name, o.remoteErr)
		}
		if o.localErr != nil {
			return "", fmt.Errorf("checksum database cache: %w", &download.DiskError{Op: "update", Path: s.cacheDir, Err: o.localErr})
		}
		// Everything was fetched and the answer still does not verify: a note not signed by
		// the key, a record or tile that does not hash into the signed tree.
		return "", &SecurityError{Detail: fmt.Sprintf("checksum database %s: %v", s.db.Name, err)}
	}
	prefix := path + " " + version + " "
	for _, l := range lines {
		if h, ok := strings.CutPrefix(l, prefix); ok && strings.HasPrefix(h, "h1:") {
			return h, nil
		}
	}
	return "", &SecurityError{Detail: fmt.Sprintf("checksum database %s has no h1 hash for %s@%s", s.db.Name, path, version)}
}

// CheckModule looks path@version up and compares the log's h1 with the one computed locally.
func (s *SumDB) CheckModule(ctx context.Context, path, version, computed string) error {
	logged, err := s.Lookup(ctx, path, version)
	if err != nil {
		return err
	}
	if logged != computed {
		return &SecurityError{Detail: fmt.Sprintf("verifying %s@%s: checksum mismatch\n\tdownloaded: %s\n\t%s:     %s\n\n"+
			"This download does NOT match the one reported by the checksum server.\n"+
			"The bits may have been replaced on the origin server, or an attacker may\n"+
			"have intercepted the download attempt.", path, version, computed, s.db.Name, logged)}
	}
	return nil
}

// resolveBase finds where the database is reached, as cmd/go's dbClient.initBase does: an
// explicit URL in GOSUMDB; else the first proxy whose <proxy>/sumdb/<name>/supported answers
// 200, falling through on 404/410 (and on any error after "|"); "direct", "off" or running out
// of proxies on not-found means https://<name>.
func (s *SumDB) resolveBase(ctx context.Context) (string, error) {
	s.baseOnce.Do(func() {
		if s.db.URL != "" {
			s.base = s.db.URL
			return
		}
		direct := "https://" + s.db.Name
		var found string
		err := errProxyless
		if len(s.proxies) > 0 {
			err = s.proxies.Try(func(proxy string) error {
				if proxy == mirror.DirectToolchainBase {
					return errProxyless
				}
				_, err := s.client.Get(ctx, proxy+"/sumdb/"+s.db.Name+"/supported", MaxSumDBDoc)
				if err == nil {
					found = proxy + "/sumdb/" + s.db.Name
				}
				return err
			})
		}
		switch {
		case err == nil:
			s.base = found
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, errProxyless), errors.Is(err, mirror.ErrProxyOff):
			s.base = direct
		default:
			s.baseErr = err
		}
	})
	return s.base, s.baseErr
}

// errProxyless marks "direct": stop looking at proxies and connect to the database itself. It
// matches fs.ErrNotExist so that ProxyList.Try treats it as a fall-through.
var errProxyless = fmt.Errorf("direct connection: %w", fs.ErrNotExist)

// ReadRemote reads a path of the database's protocol the way this client reaches it (through
// the proxies, or directly), without verifying it: a recorder wraps it to keep the files a
// fresh client needed, and that client does the verifying.
func (s *SumDB) ReadRemote(ctx context.Context, path string) ([]byte, error) {
	return s.readRemote(ctx, path)
}

func (s *SumDB) readRemote(ctx context.Context, path string) ([]byte, error) {
	if s.remote != nil {
		return s.remote(ctx, path)
	}
	if s.offline {
		return nil, ErrOffline
	}
	base, err := s.resolveBase(ctx)
	if err != nil {
		return nil, err
	}
	return s.client.Get(ctx, base+path, MaxSumDBDoc)
}

func (s *SumDB) cachePath(file string) (string, error) {
	if !filepath.IsLocal(file) || strings.Contains(file, `\`) {
		return "", fmt.Errorf("invalid checksum database cache path %q", file)
	}
	return filepath.Join(s.cacheDir, filepath.FromSlash(file)), nil
}

// ops implements sumdb.ClientOps for one lookup, carrying its context.
type ops struct {
	s         *SumDB
	ctx       context.Context
	mu        sync.Mutex
	security  []string
	remoteErr error
	localErr  error
}

func (o *ops) noteLocal(err error) error {
	if err != nil {
		o.mu.Lock()
		if o.localErr == nil {
			o.localErr = err
		}
		o.mu.Unlock()
	}
	return err
}

func (o *ops) ReadRemote(path string) ([]byte, error) {
	data, err := o.s.readRemote(o.ctx, path)
	if err != nil {
		o.mu.Lock()
		if o.remoteErr == nil {
			o.remoteErr = err
		}
		o.mu.Unlock()
	}
	return data, err
}

func (o *ops) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.s.db.Key), nil
	}
	if o.s.cacheDir == "" {
		o.s.memMu.Lock()
		defer o.s.memMu.Unlock()
		return o.s.mem["config/"+file], nil
	}
	p, err := o.s.cachePath(file)
	if err != nil {
		return nil, err
	}
	data, err := lockedfile.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, o.noteLocal(err)
}

func (o *ops) WriteConfig(file string, old, new []byte) error {
	if o.s.cacheDir == "" {
		o.s.memMu.Lock()
		defer o.s.memMu.Unlock()
		if !bytes.Equal(o.s.mem["config/"+file], old) {
			return sumdb.ErrWriteConflict
		}
		o.s.mem["config/"+file] = new
		return nil
	}
	p, err := o.s.cachePath(file)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return o.noteLocal(err)
	}
	errConflict := errors.New("conflict")
	err = lockedfile.Transform(p, func(cur []byte) ([]byte, error) {
		if !bytes.Equal(cur, old) {
			return nil, errConflict
		}
		return new, nil
	})
	if errors.Is(err, errConflict) {
		return sumdb.ErrWriteConflict
	}
	return o.noteLocal(err)
}

func (o *ops) ReadCache(file string) ([]byte, error) {
	if o.s.cacheDir == "" {
		o.s.memMu.Lock()
		defer o.s.memMu.Unlock()
		if d, ok := o.s.mem["cache/"+file]; ok {
			return d, nil
		}
		return nil, fs.ErrNotExist
	}
	p, err := o.s.cachePath(file)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (o *ops) WriteCache(file string, data []byte) {
	if o.s.cacheDir == "" {
		o.s.memMu.Lock()
		o.s.mem["cache/"+file] = data
		o.s.memMu.Unlock()
		return
	}
	if p, err := o.s.cachePath(file); err == nil {
		// A cache write that fails costs a refetch next time, nothing more.
		_ = mirror.WriteFileAtomic(p, data, 0o644)
	}
}

func (o *ops) Log(msg string) {}

func (o *ops) SecurityError(msg string) {
	o.mu.Lock()
	o.security = append(o.security, msg)
	o.mu.Unlock()
}
