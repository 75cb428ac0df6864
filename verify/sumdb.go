package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gostrap/gostrap/internal/failure"
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
		u, err := url.Parse(f[1])
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return DB{}, fmt.Errorf("invalid GOSUMDB URL %q: want https://HOST[/PATH]", f[1])
		}
		db.URL = strings.TrimSuffix(f[1], "/")
	}
	return db, nil
}

// Remote reads a path of the checksum database's protocol (/lookup/..., /tile/..., /latest):
// through the module proxies, directly, or from a bundle. It is how this package reaches the
// network without knowing how.
type Remote func(ctx context.Context, path string) ([]byte, error)

// Store keeps what a checksum-database client has verified: the latest signed tree head
// (config) and the tiles (cache), so that the log is never seen to go back in time and tiles
// are not fetched twice. The operations are those of golang.org/x/mod/sumdb.ClientOps.
type Store interface {
	ReadConfig(file string) ([]byte, error)
	WriteConfig(file string, old, new []byte) error
	ReadCache(file string) ([]byte, error)
	WriteCache(file string, data []byte)
}

// MaxSumDBDoc caps a lookup, tile or tree head.
const MaxSumDBDoc = 1 << 20

// ErrOffline is a lookup that needed the network in offline mode.
var ErrOffline = errors.New("checksum database not in the local cache and --offline forbids the network")

// SumDB looks toolchain hashes up in the checksum database. One client serves every lookup,
// so the tree head and tiles it verified are reused.
type SumDB struct {
	db     DB
	client *sumdb.Client

	// sem admits one lookup at a time: the sumdb client's operations carry no context, so
	// the lookup under way lends them its own, and its errors are its own.
	sem chan struct{}
	ops *ops
}

// NewSumDB returns a checksum-database client that reaches the database through remote and
// keeps its verified state in store (a MemStore trusts nothing this machine saw before).
func NewSumDB(db DB, remote Remote, store Store) *SumDB {
	o := &ops{db: db, remote: remote, store: store}
	return &SumDB{db: db, client: sumdb.NewClient(o), sem: make(chan struct{}, 1), ops: o}
}

// DB is the database this client trusts.
func (s *SumDB) DB() DB { return s.db }

// Name is the database's name (sum.golang.org).
func (s *SumDB) Name() string { return s.db.Name }

// Lookup returns the h1 hash the log records for the module zip path@version.
func (s *SumDB) Lookup(ctx context.Context, path, version string) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	defer func() { <-s.sem }()
	o := s.ops
	o.begin(ctx)
	lines, err := s.client.Lookup(path, version)
	security, remoteErr, localErr := o.end()
	if err != nil {
		if errors.Is(err, sumdb.ErrSecurity) || len(security) > 0 {
			return "", &SecurityError{Detail: strings.Join(security, "\n")}
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		if remoteErr != nil {
			// Keep the network error's type, so that an unreachable database is classified
			// as the DNS, TLS or proxy failure it is.
			return "", fmt.Errorf("checksum database %s: %w", s.db.Name, remoteErr)
		}
		if localErr != nil {
			return "", fmt.Errorf("checksum database cache: %w", &failure.DiskError{Op: "update", Path: "sumdb state", Err: localErr})
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

// ops implements sumdb.ClientOps, lending the lookup under way its context and keeping its
// errors apart.
type ops struct {
	db     DB
	remote Remote
	store  Store

	mu        sync.Mutex
	ctx       context.Context
	security  []string
	remoteErr error
	localErr  error
}

func (o *ops) begin(ctx context.Context) {
	o.mu.Lock()
	o.ctx, o.security, o.remoteErr, o.localErr = ctx, nil, nil, nil
	o.mu.Unlock()
}

func (o *ops) end() (security []string, remoteErr, localErr error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ctx = nil
	return o.security, o.remoteErr, o.localErr
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
	o.mu.Lock()
	ctx := o.ctx
	o.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	data, err := o.remote(ctx, path)
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
		return []byte(o.db.Key), nil
	}
	data, err := o.store.ReadConfig(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, o.noteLocal(err)
}

func (o *ops) WriteConfig(file string, old, new []byte) error {
	err := o.store.WriteConfig(file, old, new)
	if errors.Is(err, sumdb.ErrWriteConflict) {
		return err
	}
	return o.noteLocal(err)
}

func (o *ops) ReadCache(file string) ([]byte, error) { return o.store.ReadCache(file) }

// WriteCache stores a verified tile; a failure costs a refetch next time, nothing more.
func (o *ops) WriteCache(file string, data []byte) { o.store.WriteCache(file, data) }

func (o *ops) Log(msg string) {}

func (o *ops) SecurityError(msg string) {
	o.mu.Lock()
	o.security = append(o.security, msg)
	o.mu.Unlock()
}

// MemStore keeps a client's state in memory: a fresh client that must prove everything from
// what it reads now (a bundle's proof, checked offline).
type MemStore struct {
	mu     sync.Mutex
	config map[string][]byte
	cache  map[string][]byte
}

func (m *MemStore) ReadConfig(file string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.config[file], nil
}

func (m *MemStore) WriteConfig(file string, old, new []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !bytes.Equal(m.config[file], old) {
		return sumdb.ErrWriteConflict
	}
	if m.config == nil {
		m.config = map[string][]byte{}
	}
	m.config[file] = new
	return nil
}

func (m *MemStore) ReadCache(file string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.cache[file]; ok {
		return d, nil
	}
	return nil, fs.ErrNotExist
}

func (m *MemStore) WriteCache(file string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cache == nil {
		m.cache = map[string][]byte{}
	}
	m.cache[file] = data
}
