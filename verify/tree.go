package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// Hashes collects the sha256 of each file of a tree as it is written, so the tree's h1 is known
// when extraction ends, without a second pass over the files. Safe for concurrent use.
type Hashes struct {
	mu    sync.Mutex
	files map[string][sha256.Size]byte
}

// Add records the digest of the file at name (slash-separated).
func (h *Hashes) Add(name string, sum []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.files == nil {
		h.files = map[string][sha256.Size]byte{}
	}
	h.files[name] = [sha256.Size]byte(sum)
}

// Len is the number of files recorded.
func (h *Hashes) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.files)
}

// H1 is the golang.org/x/mod/sumdb/dirhash Hash1 of the recorded files under their names: the
// base64 sha256 of the lines "<hex sha256>  <name>\n" in sorted name order. dirhash.Hash1 computes
// the same from the contents; it is restated here because the contents were hashed already
// while being written (the tests check the two agree).
func (h *Hashes) H1() (string, error) { return h.H1Prefixed("") }

// H1Prefixed is H1 with prefix put before every name (a module zip's "path@version/").
func (h *Hashes) H1Prefixed(prefix string) (string, error) {
	return h.h1(func(name string) (string, bool) { return prefix + name, true })
}

// ToolchainH1 is the h1 the checksum database records for the golang.org/toolchain module
// built from a release tree whose files were recorded relative to its root (bin/go,
// src/go.mod, ...). See ToolchainName for the mapping.
func (h *Hashes) ToolchainH1(modVersion string) (string, error) {
	prefix := "golang.org/toolchain@" + modVersion + "/"
	return h.h1(func(name string) (string, bool) {
		n, ok := ToolchainName(name)
		return prefix + n, ok
	})
}

func (h *Hashes) h1(rename func(string) (string, bool)) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	type entry struct {
		name string
		sum  [sha256.Size]byte
	}
	entries := make([]entry, 0, len(h.files))
	for name, sum := range h.files {
		n, ok := rename(name)
		if !ok {
			continue
		}
		if strings.Contains(n, "\n") {
			return "", fmt.Errorf("file name with a newline: %q", n)
		}
		entries = append(entries, entry{n, sum})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	sum := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(sum, "%x  %s\n", e.sum, e.name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(sum.Sum(nil)), nil
}

// omittedFromModule are the top-level directories of a release that the toolchain module
// leaves out (cmd/distpack, and x/build's dl2mod for older releases).
var omittedFromModule = []string{".github", "api", "doc", "misc", "test"}

// OmittedFromModule reports whether a release file (relative to the Go root) is left out of
// the golang.org/toolchain module, and so is not covered by its checksum.
func OmittedFromModule(rel string) bool {
	top, _, _ := strings.Cut(rel, "/")
	return slices.Contains(omittedFromModule, top)
}

// OmittedDirs lists the top-level directories OmittedFromModule is true for.
func OmittedDirs() []string { return slices.Clone(omittedFromModule) }

// ToolchainName maps a release file (relative to the Go root) to its name inside the toolchain
// module: every go.mod becomes _go.mod (so the module holds no nested modules), and files under
// the omitted top-level directories have no name.
func ToolchainName(rel string) (string, bool) {
	if OmittedFromModule(rel) {
		return "", false
	}
	if path.Base(rel) == "go.mod" {
		return path.Join(path.Dir(rel), "_go.mod"), true
	}
	return rel, true
}

// ReleaseName is the inverse of ToolchainName for a module file name without its prefix.
func ReleaseName(modName string) string {
	if path.Base(modName) == "_go.mod" {
		return path.Join(path.Dir(modName), "go.mod")
	}
	return modName
}
