package gostrap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
)

// CacheEntry is one download in the cache (docs/design.md, "On disk").
type CacheEntry struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Version  string `json:"version,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Partial is a download that did not finish: the next install of that release resumes it.
	Partial bool `json:"partial"`
	// Installed is true when a toolchain in the install directory is this download's release
	// and platform: prune keeps it unless told otherwise.
	Installed bool `json:"installed"`
	// Verified is how the download was verified (its record's method); empty for a partial.
	Verified string `json:"verified,omitempty"`
	// Time is when it was verified, or for a partial when it was last written.
	Time time.Time `json:"time"`
}

// CacheListing is what the cache holds.
type CacheListing struct {
	Dir       string       `json:"dir"`
	Downloads []CacheEntry `json:"downloads"`
	// IndexBytes is the fetched indexes (reused for 15 minutes); SumDBBytes the checksum
	// database's verified tree head and tiles, which prune and clean never remove.
	IndexBytes int64 `json:"index_bytes"`
	SumDBBytes int64 `json:"sumdb_bytes"`
	TotalBytes int64 `json:"total_bytes"`
}

// activeWindow is how recently a partial download may have been written and still belong to a
// running install: prune and clean leave it alone. It is well over the idle timeout.
const activeWindow = 10 * time.Minute

// CacheList lists the downloads, newest release first, with what else the cache holds.
func (in *Installer) CacheList() (*CacheListing, error) {
	entries, err := in.cacheEntries()
	if err != nil {
		return nil, err
	}
	l := &CacheListing{Dir: in.opts.CacheDir, Downloads: entries}
	for _, e := range entries {
		l.TotalBytes += e.Size
	}
	l.IndexBytes = dirSize(filepath.Join(in.opts.CacheDir, "index"))
	l.SumDBBytes = dirSize(filepath.Join(in.opts.CacheDir, "sumdb"))
	l.TotalBytes += l.IndexBytes + l.SumDBBytes
	return l, nil
}

// PruneOptions say what CachePrune removes: downloads not of an installed toolchain (all of
// them with Installed), except the Keep newest releases per platform and those newer than
// OlderThan; partial downloads older than OlderThan (and not being written); stale indexes.
type PruneOptions struct {
	Keep      int
	OlderThan time.Duration
	// Installed removes downloads of installed toolchains too.
	Installed bool
	// DryRun says what would go and removes nothing.
	DryRun bool
}

// PruneResult is what a prune or clean removed, and what it kept.
type PruneResult struct {
	Removed    []CacheEntry `json:"removed"`
	Kept       []CacheEntry `json:"kept"`
	FreedBytes int64        `json:"freed_bytes"`
	DryRun     bool         `json:"dry_run"`
}

// CachePrune removes what o says from the download cache. The checksum database's state and
// the rollback floor are never removed: they are what protects later installs.
func (in *Installer) CachePrune(o PruneOptions) (*PruneResult, error) {
	return in.prune(o, time.Now().Add(-in.opts.IndexTTL))
}

// CacheClean removes every download and fetched index, installed toolchains' downloads too,
// but not a partial download being written, the checksum database's state or the rollback
// floor: a prune that keeps nothing else.
func (in *Installer) CacheClean(dryRun bool) (*PruneResult, error) {
	return in.prune(PruneOptions{Installed: true, DryRun: dryRun}, time.Now().Add(time.Minute))
}

// prune removes the downloads o does not keep and the indexes last written before indexCutoff.
func (in *Installer) prune(o PruneOptions, indexCutoff time.Time) (*PruneResult, error) {
	entries, err := in.cacheEntries()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &PruneResult{Removed: []CacheEntry{}, Kept: []CacheEntry{}, DryRun: o.DryRun}
	kept := map[string]int{}    // platform -> releases kept by --keep so far
	for _, e := range entries { // newest release first
		keep := false
		switch {
		case e.Partial:
			keep = now.Sub(e.Time) < max(o.OlderThan, activeWindow)
		case e.Installed && !o.Installed:
			keep = true
		case o.OlderThan > 0 && now.Sub(e.Time) < o.OlderThan:
			keep = true
		case kept[e.Platform] < o.Keep:
			kept[e.Platform]++
			keep = true
		}
		if keep {
			res.Kept = append(res.Kept, e)
			continue
		}
		if err := in.removeEntry(e, o.DryRun); err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, e)
		res.FreedBytes += e.Size
	}
	freed, err := in.removeIndexes(indexCutoff, o.DryRun)
	res.FreedBytes += freed
	return res, err
}

// cacheEntries reads the download directory: verified downloads with their records, and
// partial downloads, newest release first.
func (in *Installer) cacheEntries() ([]CacheEntry, error) {
	dir := filepath.Join(in.opts.CacheDir, "dl")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []CacheEntry{}, nil
	}
	if err != nil {
		return nil, &failure.DiskError{Op: "read", Path: dir, Err: err}
	}
	installed := map[string]bool{}
	if list, err := in.layout.ListAll(); err == nil {
		for _, i := range list {
			installed[i.Version+" "+i.Platform] = true
		}
	}
	out := []CacheEntry{}
	for _, de := range ents {
		name := de.Name()
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		e := CacheEntry{Name: name, Path: filepath.Join(dir, name), Size: info.Size(), Time: info.ModTime().UTC()}
		if base, ok := strings.CutSuffix(name, ".partial"); ok {
			e.Name, e.Partial = base, true
			if seg, err := os.Stat(e.Path + ".seg"); err == nil && seg.ModTime().After(info.ModTime()) {
				e.Time = seg.ModTime().UTC()
			}
		} else if strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".seg") {
			continue
		} else if rec, ok := in.cache.ReadRecord(name); ok {
			e.Version, e.Platform, e.Verified, e.Time = rec.Version, rec.Platform, rec.Verified.Method, rec.Time
		} else {
			continue // neither verified nor in progress: not gostrap's
		}
		if e.Version == "" || e.Platform == "" {
			e.Version, e.Platform = releaseOf(e.Name)
		}
		e.Installed = !e.Partial && installed[e.Version+" "+e.Platform]
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b CacheEntry) int {
		if c := mirror.CompareVersions(b.Version, a.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// releaseOf reads the release and platform from a download's name: a release archive
// (go1.22.3.linux-amd64.tar.gz) or a toolchain module zip
// (golang.org-toolchain@v0.0.1-go1.22.3.linux-amd64.zip).
func releaseOf(name string) (version, platform string) {
	name = strings.TrimPrefix(name, "golang.org-toolchain@v0.0.1-")
	for _, ext := range []string{".tar.gz", ".zip"} {
		name = strings.TrimSuffix(name, ext)
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 || !mirror.IsRelease(name[:i]) {
		return "", ""
	}
	goos, goarch, ok := strings.Cut(name[i+1:], "-")
	if !ok {
		return "", ""
	}
	if goarch == "armv6l" {
		goarch = "arm"
	}
	return name[:i], goos + "/" + goarch
}

// removeEntry removes a download with its record, or a partial with its segment state. The
// lock file is left: another process may be waiting on it, and an empty file costs nothing.
func (in *Installer) removeEntry(e CacheEntry, dryRun bool) error {
	if dryRun {
		return nil
	}
	paths := []string{e.Path + ".json", e.Path}
	if e.Partial {
		paths = []string{e.Path, e.Path + ".seg"}
	}
	for _, p := range paths {
		if err := layout.RemoveAll(p); err != nil {
			return &failure.DiskError{Op: "remove", Path: p, Err: err}
		}
	}
	return nil
}

// removeIndexes removes the fetched indexes last written before cutoff and returns the bytes
// freed.
func (in *Installer) removeIndexes(cutoff time.Time, dryRun bool) (int64, error) {
	dir := filepath.Join(in.opts.CacheDir, "index")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, nil
	}
	var freed int64
	for _, de := range ents {
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(cutoff) {
			continue
		}
		if !dryRun {
			if err := layout.RemoveAll(filepath.Join(dir, de.Name())); err != nil {
				return freed, &failure.DiskError{Op: "remove", Path: filepath.Join(dir, de.Name()), Err: err}
			}
		}
		freed += info.Size()
	}
	return freed, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
