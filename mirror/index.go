package mirror

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
)

// Release is one entry of the official download index (go.dev/dl/?mode=json&include=all).
type Release struct {
	Version string `json:"version"`
	Stable  bool   `json:"stable"`
	Files   []File `json:"files"`
}

// File is one downloadable file of a release.
type File struct {
	Filename string `json:"filename"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Version  string `json:"version"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Kind     string `json:"kind"` // "archive", "installer", "source"
}

// MaxIndex caps the size of an index document (the real one is about 1 MB).
const MaxIndex = 32 << 20

// ParseIndex parses an official-format JSON index. Releases whose version is not a Go release
// are dropped; files that could not be used safely (a file name with a path in it, a digest
// that is not sha256, a size that is not positive) are dropped from their release, so that
// nothing downstream has to distrust the fields it reads.
func ParseIndex(data []byte) ([]Release, error) {
	var raw []Release
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &IndexError{Err: err}
	}
	out := raw[:0]
	for _, r := range raw {
		if !IsRelease(r.Version) {
			continue
		}
		files := r.Files[:0]
		for _, f := range r.Files {
			if validFile(f) {
				files = append(files, f)
			}
		}
		r.Files = files
		r.Stable = r.Stable && IsStable(r.Version)
		out = append(out, r)
	}
	return out, nil
}

func validFile(f File) bool {
	return f.Filename != "" && !strings.ContainsAny(f.Filename, `/\:`) && f.Filename != "." &&
		f.Filename != ".." && isHexSHA256(f.SHA256) && f.Size > 0
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// IndexError is an index that could not be parsed.
type IndexError struct{ Err error }

func (e *IndexError) Error() string        { return "malformed download index: " + e.Err.Error() }
func (e *IndexError) Unwrap() error        { return e.Err }
func (e *IndexError) Class() failure.Class { return failure.HTTPStatus }

// Archive returns the binary archive of r for p. The file name must be exactly the one the
// official site uses for that version and platform: an index listing a darwin archive under
// linux, or another version's archive, is not believed.
func (r Release) Archive(p Platform) (File, bool) {
	want := p.ArchiveName(r.Version)
	for _, f := range r.Files {
		if f.Kind == "archive" && f.OS == p.OS && f.Arch == p.OfficialArch() && f.Filename == want {
			return f, true
		}
	}
	return File{}, false
}

// Versions lists the releases that have an archive for p.
func Versions(releases []Release, p Platform) []Version {
	var out []Version
	for _, r := range releases {
		if _, ok := r.Archive(p); ok {
			out = append(out, Version{Version: r.Version, Stable: r.Stable})
		}
	}
	return out
}

// Find returns the release named v.
func Find(releases []Release, v string) (Release, bool) {
	for _, r := range releases {
		if r.Version == v {
			return r, true
		}
	}
	return Release{}, false
}

// Official is an official download site: the JSON index and the archives beside it. go.dev and
// golang.google.cn are official; so is an organisation's own copy named with --official.
type Official struct {
	Base string // ends in "/"
}

// NormalizeBase adds a scheme (https) and a trailing slash.
func NormalizeBase(base string) string {
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base
}

// IndexURL is the dynamic index, answered by go.dev and golang.google.cn.
func (o Official) IndexURL() string { return o.Base + "?mode=json&include=all" }

// StaticIndexURL is the same index as a plain file, as `gostrap mirror sync` writes it for any
// static web server.
func (o Official) StaticIndexURL() string { return o.Base + "index.json" }

// FileURL is where the site serves a release file.
func (o Official) FileURL(filename string) string { return o.Base + filename }

// IndexCache keeps fetched indexes for a short time, so that `list --remote` and a following
// install fetch the index once (internal/layout keeps them on disk).
type IndexCache interface {
	Get(url string) ([]byte, bool)
	Put(url string, body []byte)
}

// FetchIndex returns the releases an official site lists: the dynamic index first, then the
// static index.json of a mirror tree.
func (o Official) FetchIndex(ctx context.Context, c *download.Client, cache IndexCache) ([]Release, error) {
	for _, u := range []string{o.IndexURL(), o.StaticIndexURL()} {
		if body, ok := cache.Get(u); ok {
			if rs, err := ParseIndex(body); err == nil {
				return rs, nil
			}
		}
	}
	body, err := c.Get(ctx, o.IndexURL(), MaxIndex)
	var rs []Release
	if err == nil {
		rs, err = ParseIndex(body)
		if err == nil {
			cache.Put(o.IndexURL(), body)
			return rs, nil
		}
	}
	// A static server answers the query with index.html or 404; a mirror tree has index.json.
	var ie *IndexError
	if !errors.As(err, &ie) && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	body, err2 := c.Get(ctx, o.StaticIndexURL(), MaxIndex)
	if err2 != nil {
		if errors.Is(err2, fs.ErrNotExist) {
			return nil, err
		}
		return nil, err2
	}
	rs, err2 = ParseIndex(body)
	if err2 != nil {
		return nil, fmt.Errorf("%s: %w", o.StaticIndexURL(), err2)
	}
	cache.Put(o.StaticIndexURL(), body)
	return rs, nil
}
