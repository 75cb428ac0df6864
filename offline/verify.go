package offline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/gostrap/gostrap/verify"
)

// Status of a file or release in a verification.
const (
	Good     = "good"
	Missing  = "missing"
	Tampered = "tampered"
	Unlisted = "unlisted"
	// Unproven is a release synced while the checksum database was unreachable: it holds an
	// archive an official index vouched for, usable from the tree served as an official site,
	// but nothing that proves it offline.
	Unproven = "unproven"
)

// FileStatus is one file's verdict.
type FileStatus struct {
	Path   string `json:"path"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// EntryStatus is one release's verdict: its proof, and its files against the proven hash.
type EntryStatus struct {
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
	H1       string `json:"h1,omitempty"`
}

// Verification is the result of checking a whole tree offline.
type Verification struct {
	Path    string         `json:"path"`
	SumDB   string         `json:"sumdb"`
	Files   []FileStatus   `json:"files"`
	Entries []EntryStatus  `json:"entries"`
	Counts  map[string]int `json:"counts"`
}

// OK reports that every file is as listed and every release proven.
func (v *Verification) OK() bool {
	for _, f := range v.Files {
		if f.Status != Good {
			return false
		}
	}
	for _, e := range v.Entries {
		if e.Status != Good && e.Status != Unproven {
			return false
		}
	}
	return true
}

// Verify checks a tree without the network: every listed file's size and sha256, that nothing
// unlisted was added, every release's checksum-database proof against db's key, and that each
// module zip and release archive hashes to the proven h1.
func (t *Tree) Verify(ctx context.Context, db verify.DB) *Verification {
	v := &Verification{Path: t.Path, SumDB: t.Manifest.SumDB, Counts: map[string]int{}}
	bad := map[string]string{}
	for _, f := range t.Manifest.Files {
		st := FileStatus{Path: f.Path, Status: Good}
		if err := t.checkDigest(f); err != nil {
			st.Status, st.Detail = Tampered, err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				st.Status, st.Detail = Missing, ""
			}
			bad[f.Path] = st.Status
		}
		v.Files = append(v.Files, st)
	}
	all, err := t.allFiles()
	if err != nil {
		v.Files = append(v.Files, FileStatus{Path: ".", Status: Tampered, Detail: err.Error()})
	}
	slices.Sort(all)
	for _, p := range all {
		if _, ok := t.Manifest.File(p); !ok {
			v.Files = append(v.Files, FileStatus{Path: p, Status: Unlisted, Detail: "not in the manifest"})
		}
	}
	for _, e := range t.Manifest.Entries {
		es := EntryStatus{Version: e.Version, Platform: e.Platform, Status: Good}
		if e.H1 == "" {
			es.Status, es.Detail = Unproven, "synced without a checksum-database proof; its archive's sha256 came from an official index"
			if bad[e.Archive] != "" {
				es.Status, es.Detail = Tampered, "its archive is missing or changed"
			}
			v.Entries = append(v.Entries, es)
			continue
		}
		h1, err := t.Prove(ctx, db, e)
		switch {
		case err != nil:
			es.Status, es.Detail = Tampered, err.Error()
		case bad[e.Zip] != "" || bad[e.Archive] != "":
			es.Status, es.Detail = Tampered, "a file of this release is missing or changed"
		default:
			es.H1 = h1
			if err := t.checkRelease(e, h1); err != nil {
				es.Status, es.Detail = Tampered, err.Error()
			}
		}
		v.Entries = append(v.Entries, es)
	}
	for _, f := range v.Files {
		v.Counts[f.Status]++
	}
	return v
}

// checkDigest hashes one listed file.
func (t *Tree) checkDigest(want File) error {
	f, err := t.FS.Open(want.Path)
	if err != nil {
		return fs.ErrNotExist
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, want.Size+1))
	if err != nil {
		return err
	}
	if n != want.Size {
		return fmt.Errorf("%d bytes, the manifest says %d", n, want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("sha256 %s, the manifest says %s", got, want.SHA256)
	}
	return nil
}

// checkRelease hashes an entry's zip and archive as the toolchain module and compares with h1.
func (t *Tree) checkRelease(e Entry, h1 string) error {
	if e.Zip != "" {
		f, want, err := t.Check(e.Zip)
		if err != nil {
			return err
		}
		got, err := "", errors.New("file does not support random access")
		if ra, ok := f.(io.ReaderAt); ok {
			got, err = verify.ZipH1(ra, want.Size)
		}
		f.Close()
		if err != nil || got != h1 {
			return fmt.Errorf("module zip hashes to %s, the log records %s (%v)", got, h1, err)
		}
	}
	if e.Archive != "" {
		f, want, err := t.Check(e.Archive)
		if err != nil {
			return err
		}
		var got string
		if ra, ok := f.(io.ReaderAt); ok && strings.HasSuffix(e.Archive, ".zip") {
			got, err = verify.ZipArchiveH1(ra, want.Size, e.Module)
		} else {
			got, err = verify.ArchiveH1(f, e.Module)
		}
		f.Close()
		if err != nil || got != h1 {
			return fmt.Errorf("release archive hashes to %s as the toolchain module, the log records %s (%v)", got, h1, err)
		}
	}
	return nil
}
