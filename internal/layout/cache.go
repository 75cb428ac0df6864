package layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/sumdb"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/verify"
)

// Cache is the cache directory (GOSTRAP_CACHE):
//
//	<Dir>/dl/<file>              a verified download (release archive or toolchain module zip)
//	<Dir>/dl/<file>.json         its Record: what it is and what vouched for it
//	<Dir>/dl/<file>.partial      a download in progress (resumed by the next run), with
//	<Dir>/dl/<file>.partial.seg  the chunks of a segmented download that are complete
//	<Dir>/dl/<file>.lock         held while the file is fetched
//	<Dir>/index/<hash>.json      fetched indexes, reused for a few minutes
//	<Dir>/sumdb/<name>/...       the checksum database's verified tree head and tiles
//	<Dir>/seen.json              the newest releases installed here: the rollback floor
type Cache struct {
	Dir string
}

// Download is the path of a file in the download cache.
func (c Cache) Download(name string) string { return filepath.Join(c.Dir, "dl", name) }

// Record is written beside a verified download: what it is and what vouched for it, so that
// a later install, online or offline, can reuse it after checking the bytes against it again.
type Record struct {
	Size     int64           `json:"size"`
	SHA256   string          `json:"sha256"`
	Version  string          `json:"version,omitempty"`
	Platform string          `json:"platform,omitempty"`
	Verified verify.Verified `json:"verified"`
	Source   SourceRef       `json:"source"`
	Time     time.Time       `json:"time"`
}

// ReadRecord returns the record of the download name, when the download is there at the size
// the record says.
func (c Cache) ReadRecord(name string) (*Record, bool) {
	final := c.Download(name)
	data, err := os.ReadFile(final + ".json")
	if err != nil {
		return nil, false
	}
	var r Record
	if json.Unmarshal(data, &r) != nil || r.Size <= 0 {
		return nil, false
	}
	if st, err := os.Stat(final); err != nil || st.Size() != r.Size {
		return nil, false
	}
	return &r, true
}

// Keep moves a verified partial download into place and writes its record.
func (c Cache) Keep(partial, name string, r Record) error {
	final := c.Download(name)
	if err := Rename(partial, final); err != nil {
		return &failure.DiskError{Op: "rename", Path: final, Err: err}
	}
	data, _ := json.Marshal(r)
	if err := WriteFile(final+".json", data, 0o644); err != nil {
		return &failure.DiskError{Op: "write", Path: final + ".json", Err: err}
	}
	return nil
}

// Downloads lists the names of the verified downloads with intact records.
func (c Cache) Downloads() []string {
	ents, _ := os.ReadDir(filepath.Join(c.Dir, "dl"))
	var out []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if _, intact := c.ReadRecord(name); intact {
			out = append(out, name)
		}
	}
	return out
}

// Index is the cache of fetched indexes, each kept for ttl.
func (c Cache) Index(ttl time.Duration) IndexCache {
	return IndexCache{dir: filepath.Join(c.Dir, "index"), ttl: ttl}
}

// IndexCache keeps fetched indexes on disk for a short time (a mirror.IndexCache).
type IndexCache struct {
	dir string
	ttl time.Duration
}

type cachedIndex struct {
	URL     string          `json:"url"`
	Fetched time.Time       `json:"fetched"`
	Body    json.RawMessage `json:"body"`
}

func (c IndexCache) path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:8])+".json")
}

// Get returns the body fetched from url, when it is fresh.
func (c IndexCache) Get(url string) ([]byte, bool) {
	if c.dir == "" || c.ttl <= 0 {
		return nil, false
	}
	data, err := os.ReadFile(c.path(url))
	if err != nil {
		return nil, false
	}
	var ci cachedIndex
	if json.Unmarshal(data, &ci) != nil || ci.URL != url || time.Since(ci.Fetched) > c.ttl || time.Since(ci.Fetched) < -time.Minute {
		return nil, false
	}
	return ci.Body, true
}

// Put keeps body as fetched from url now. The cache is an optimisation: a failure to write
// it changes nothing else.
func (c IndexCache) Put(url string, body []byte) {
	if c.dir == "" || c.ttl <= 0 || !json.Valid(body) {
		return
	}
	data, err := json.Marshal(cachedIndex{URL: url, Fetched: time.Now().UTC(), Body: body})
	if err != nil {
		return
	}
	_ = WriteFile(c.path(url), data, 0o644)
}

// SumDB is where the checksum database's verified state is kept (a verify.Store).
func (c Cache) SumDB() SumDBStore { return SumDBStore{dir: filepath.Join(c.Dir, "sumdb")} }

// SumDBStore keeps the checksum database's latest verified tree head and its tiles on disk,
// shared by every gostrap process of the machine (under a lock) as the go command shares its
// own.
type SumDBStore struct{ dir string }

func (s SumDBStore) path(file string) (string, error) {
	if !filepath.IsLocal(file) || strings.Contains(file, `\`) {
		return "", fmt.Errorf("invalid checksum database cache path %q", file)
	}
	return filepath.Join(s.dir, filepath.FromSlash(file)), nil
}

func (s SumDBStore) ReadConfig(file string) ([]byte, error) {
	p, err := s.path(file)
	if err != nil {
		return nil, err
	}
	return lockedfile.Read(p)
}

func (s SumDBStore) WriteConfig(file string, old, new []byte) error {
	p, err := s.path(file)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
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
	return err
}

func (s SumDBStore) ReadCache(file string) ([]byte, error) {
	p, err := s.path(file)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (s SumDBStore) WriteCache(file string, data []byte) {
	if p, err := s.path(file); err == nil {
		_ = WriteFile(p, data, 0o644)
	}
}

// Seen is the rollback floor: the newest stable release installed here, overall and per line.
type Seen struct {
	Latest string            `json:"latest"`
	Lines  map[string]string `json:"lines"`
}

// SeenFile is where the floor is kept.
func (c Cache) SeenFile() string { return filepath.Join(c.Dir, "seen.json") }

// ErrSeenCorrupt is a rollback floor that cannot be read: the caller rebuilds it.
var ErrSeenCorrupt = errors.New("the rollback record is corrupt")

// ReadSeen reads the floor. A missing file is an empty floor; one that does not parse is
// ErrSeenCorrupt, never an empty floor: that would switch the protection off.
func (c Cache) ReadSeen() (Seen, error) {
	sn := Seen{Lines: map[string]string{}}
	data, err := os.ReadFile(c.SeenFile())
	if errors.Is(err, fs.ErrNotExist) {
		return sn, nil
	}
	if err != nil {
		return sn, &failure.DiskError{Op: "read", Path: c.SeenFile(), Err: err}
	}
	if err := json.Unmarshal(data, &sn); err != nil {
		return Seen{Lines: map[string]string{}}, fmt.Errorf("%s: %w: %v", c.SeenFile(), ErrSeenCorrupt, err)
	}
	if sn.Lines == nil {
		sn.Lines = map[string]string{}
	}
	return sn, nil
}

// UpdateSeen changes the floor under a lock shared by every gostrap process.
func (c Cache) UpdateSeen(change func(sn *Seen, readErr error)) error {
	// An install from a bundle may be the first thing this cache directory sees.
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return &failure.DiskError{Op: "create", Path: c.Dir, Err: err}
	}
	unlock, err := Lock(context.Background(), c.SeenFile()+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	sn, rerr := c.ReadSeen()
	change(&sn, rerr)
	data, _ := json.Marshal(sn)
	if err := WriteFile(c.SeenFile(), data, 0o644); err != nil {
		return &failure.DiskError{Op: "write", Path: c.SeenFile(), Err: err}
	}
	return nil
}
