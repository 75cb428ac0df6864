// Package offline is gostrap's release tree: a self-describing, verifiable set of Go releases
// that gostrap makes (`bundle create`, `mirror sync`) and consumes (`--bundle`, `--offline`,
// `--official`/`--mirror` pointed at a served tree). One layout serves every use:
//
//	gostrap-manifest.json                        every file with size and sha256; per release, the
//	                                             toolchain module's h1 and its checksum-database proof
//	index.json                                   official-compatible JSON index (archives whose
//	                                             sha256 an official index vouched for)
//	go1.N.M.os-arch.tar.gz (.sha256)             release archives: the flat mirror layout
//	golang.org/toolchain/@v/list, *.info/.mod/.zip   the module proxy layout (GOPROXY=file://...)
//	sumdb/<name>/supported, lookup/..., tile/... the checksum-database files a fresh client reads
//
// Rules: the manifest is not signed and is never a trust root by itself. What vouches for a
// release offline is the checksum-database proof, checked against the verifier key this
// machine already trusts (sum.golang.org's built in, or GOSUMDB); the manifest's sizes and
// digests only find a truncated or changed file early. A tree may be a directory or one
// uncompressed tar of it.
package offline

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// ManifestName is the manifest's file name at the top of a tree.
const ManifestName = "gostrap-manifest.json"

// Format identifies the manifest format.
const Format = "gostrap-tree/1"

// MaxManifest caps a manifest's size.
const MaxManifest = 64 << 20

// Manifest describes a tree.
type Manifest struct {
	Format  string    `json:"format"`
	Created time.Time `json:"created"`
	// SumDB is the name of the checksum database the proofs come from.
	SumDB   string  `json:"sumdb"`
	Entries []Entry `json:"entries"`
	// Files lists every file of the tree but the manifest itself.
	Files []File `json:"files"`
	// Gostrap says which gostrap the tree carries (gostrap/<os>-<arch>/gostrap[.exe], listed
	// in gostrap/SHA256SUMS and in Files), for install.sh and install.ps1.
	Gostrap *GostrapSet `json:"gostrap,omitempty"`
}

// GostrapSet is the gostrap a tree carries.
type GostrapSet struct {
	// Version is the module version the binaries record (their build information).
	Version string `json:"version"`
	// Platforms are the platforms ("os/arch") it is built for.
	Platforms []string `json:"platforms"`
}

// Entry is one release for one platform.
type Entry struct {
	Version  string `json:"version"`
	Platform string `json:"platform"`
	// Module is the golang.org/toolchain version holding the release.
	Module string `json:"module"`
	// H1 is the module's hash as the checksum database records it; empty (with Record) when
	// the tree was synced while the database was unreachable.
	H1 string `json:"h1"`
	// Record is the tree path of the checksum database's lookup answer for Module: the record,
	// and the signed tree head it is proven against (with the tiles under sumdb/<name>/tile/).
	Record string `json:"record"`
	// Zip and Archive are the tree paths of the module zip and the release archive, when held.
	Zip     string `json:"zip,omitempty"`
	Archive string `json:"archive,omitempty"`
	// OfficialSHA256 reports that the archive's sha256 matched an official index when the tree
	// was made (it is then listed in index.json).
	OfficialSHA256 bool `json:"official_sha256,omitempty"`
}

// File is one file of the tree.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ParseManifest parses and checks a manifest: every path local and slash-separated, every
// digest a sha256, no path listed twice.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("malformed %s: %w", ManifestName, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: unknown format %q (want %s)", ManifestName, m.Format, Format)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%s lists %s twice", ManifestName, f.Path)
		}
		seen[f.Path] = true
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || f.Size < 0 {
			return nil, fmt.Errorf("%s: bad size or sha256 for %s", ManifestName, f.Path)
		}
	}
	if !validDBName(m.SumDB) {
		return nil, fmt.Errorf("%s: invalid checksum database name %q", ManifestName, m.SumDB)
	}
	entries := map[string]bool{}
	for _, e := range m.Entries {
		if err := checkEntry(&m, e, seen); err != nil {
			return nil, err
		}
		if key := e.Version + " " + e.Platform; entries[key] {
			return nil, fmt.Errorf("%s lists %s twice", ManifestName, key)
		} else {
			entries[key] = true
		}
	}
	return &m, nil
}

// checkEntry checks that an entry is well formed and about the release it names: its module,
// and the checksum-database record it points at, must be that release's for that platform.
// An entry that names another release's module is a forgery (a SecurityError): the manifest
// is unsigned, and must not choose what gets installed.
func checkEntry(m *Manifest, e Entry, listed map[string]bool) error {
	what := e.Version + " " + e.Platform
	p, err := mirror.ParsePlatform(e.Platform)
	if err != nil || !mirror.IsRelease(e.Version) {
		return fmt.Errorf("%s: entry %q is not a Go release for a platform", ManifestName, what)
	}
	if want := p.ToolchainVersion(e.Version); e.Module != want {
		return &verify.SecurityError{Detail: fmt.Sprintf("bundle manifest: the entry for %s names %s@%s, which is not %s's module (%s@%s)",
			what, verify.ToolchainModule, e.Module, what, verify.ToolchainModule, want)}
	}
	if e.H1 == "" && e.Record == "" {
		// Synced while the checksum database was unreachable: only an archive an official
		// index vouched for, served from the tree as an official site, can be used.
		if e.Zip != "" || e.Archive == "" || !e.OfficialSHA256 {
			return fmt.Errorf("%s: entry %s has no checksum-database proof and no officially vouched archive", ManifestName, what)
		}
	} else {
		if want := SumDBPath(m.SumDB, "/lookup/"+verify.ToolchainModule+"@"+e.Module); e.Record != want {
			return &verify.SecurityError{Detail: fmt.Sprintf("bundle manifest: the entry for %s points at the checksum-database record %s, not %s",
				what, e.Record, want)}
		}
		if h, ok := strings.CutPrefix(e.H1, "h1:"); !ok || !isSHA256Base64(h) {
			return fmt.Errorf("%s: entry %s has no valid h1", ManifestName, what)
		}
	}
	for _, path := range []string{e.Record, e.Zip, e.Archive} {
		if path == "" {
			continue
		}
		if err := checkPath(path); err != nil {
			return err
		}
		if !listed[path] {
			return fmt.Errorf("%s: entry %s refers to %s, which it does not list", ManifestName, what, path)
		}
	}
	if e.Zip != "" && e.Zip != ZipPath(e.Module) {
		return &verify.SecurityError{Detail: fmt.Sprintf("bundle manifest: the entry for %s holds the module zip %s, not %s", what, e.Zip, ZipPath(e.Module))}
	}
	if e.Archive != "" && e.Archive != p.ArchiveName(e.Version) {
		return &verify.SecurityError{Detail: fmt.Sprintf("bundle manifest: the entry for %s holds the archive %s, not %s", what, e.Archive, p.ArchiveName(e.Version))}
	}
	return nil
}

func isSHA256Base64(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// validDBName reports whether name could be a checksum database's name (host[/path]), safe to
// use as a path in the tree.
func validDBName(name string) bool {
	return name != "" && fs.ValidPath(name) && !strings.ContainsAny(name, `\:@ `)
}

func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.ContainsAny(p, `\:`) || p == ManifestName {
		return fmt.Errorf("%s: invalid path %q", ManifestName, p)
	}
	return nil
}

// File returns the manifest's record of a tree path.
func (m *Manifest) File(p string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// Entry returns the entry for a release and platform ("os/arch").
func (m *Manifest) Entry(version, platform string) (Entry, bool) {
	for _, e := range m.Entries {
		if e.Version == version && e.Platform == platform {
			return e, true
		}
	}
	return Entry{}, false
}

// Paths in a tree.

// ZipPath is the tree path of a toolchain module zip (the proxy layout).
func ZipPath(module string) string { return "golang.org/toolchain/@v/" + module + ".zip" }

// InfoPath, ModPath and ListPath complete the module proxy layout.
func InfoPath(module string) string { return "golang.org/toolchain/@v/" + module + ".info" }
func ModPath(module string) string  { return "golang.org/toolchain/@v/" + module + ".mod" }

// ListPath is the module's version list.
const ListPath = "golang.org/toolchain/@v/list"

// SumDBPath is the tree path of a checksum-database protocol path (/lookup/..., /tile/...).
func SumDBPath(name, remote string) string {
	return path.Join("sumdb", name, strings.TrimPrefix(remote, "/"))
}

// IndexPath is the official-compatible index.
const IndexPath = "index.json"
