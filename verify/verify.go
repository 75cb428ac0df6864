// Package verify holds gostrap's one trust decision and what it needs. Sources, bundles and the
// download cache only gather evidence: what was fetched and what claims to vouch for it. Decide
// takes that evidence and says whether the bytes may be installed, how (the method recorded in
// the install report), and, before a download, what extraction must do so that only vouched-for
// bytes end up installed. The rules are the trust table of docs/design.md; decide_test.go has a
// row for each.
//
// The package also holds what the decision needs: the h1 tree hash (one implementation,
// Hashes), the mapping between a release tree and the golang.org/toolchain module, and a
// checksum-database client (golang.org/x/mod/sumdb) that reaches the log through a Remote and
// keeps its verified state in a Store. It never imports the transport: remote reads come in
// through those two small interfaces.
//
// Rules:
//   - a checksum published by the host that served the bytes proves nothing; it is used only,
//     and loudly, under --insecure-trust-mirror (MethodMirrorSelf);
//   - a bundle's manifest is never a trust root: its digests find a changed file early, and its
//     entries must name the toolchain module of the release asked for;
//   - GOSUMDB=off and GONOSUMDB do not switch the checksum database off for golang.org/toolchain,
//     as the go command refuses to;
//   - any disagreement with the log is a SecurityError: nothing is installed and no other, weaker
//     path is tried for the same bytes.
package verify

import (
	"fmt"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
)

// ToolchainModule is the module path under which the go command publishes toolchains.
const ToolchainModule = "golang.org/toolchain"

// Methods, as recorded in the install report's verified.method.
const (
	// MethodSHA256: the archive's sha256 equals the one in an official index.
	MethodSHA256 = "sha256"
	// MethodSumDB: the toolchain module zip's h1 equals the checksum database's.
	MethodSumDB = "sumdb"
	// MethodSumDBTree: the h1 recomputed over an extracted release archive equals the
	// checksum database's record for the matching toolchain module.
	MethodSumDBTree = "sumdb-tree"
	// MethodSumDBOffline: a bundle's checksum-database proof, checked offline against the key.
	MethodSumDBOffline = "sumdb-offline"
	// MethodMirrorSelf: only the mirror's own checksum vouched (--insecure-trust-mirror).
	MethodMirrorSelf = "mirror-self"
)

// Verified says what vouched for installed bytes: the install report's "verified" object, and
// the record kept beside an install and a cached download.
type Verified struct {
	// Method is how: sha256, sumdb, sumdb-tree, sumdb-offline, mirror-self, or several joined
	// with "+" when more than one held (sha256+sumdb-tree).
	Method string `json:"method"`
	// Digest is the digest that was checked (sha256:<hex> or h1:<base64>).
	Digest string `json:"digest"`
	SHA256 string `json:"sha256,omitempty"`
	H1     string `json:"h1,omitempty"`
	// TrustedBy names the root the expected digest came from.
	TrustedBy string `json:"trusted_by,omitempty"`
}

// MismatchError is a digest or size that differs from the trusted one.
type MismatchError struct {
	Name     string // the file or module checked
	Expected string
	Actual   string
	// TrustedBy names where Expected came from ("the index at https://go.dev/dl/").
	TrustedBy string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("checksum mismatch for %s: expected %s (from %s), got %s", e.Name, e.Expected, e.TrustedBy, e.Actual)
}

func (e *MismatchError) Class() failure.Class { return failure.ChecksumMismatch }

// SecurityError is evidence that the checksum database or the bytes are not what the log
// says: a module hash other than the logged one, a log that contradicts itself, or a bundle
// that offers one release's module for another.
type SecurityError struct {
	Detail string
}

func (e *SecurityError) Error() string {
	return "SECURITY ERROR\n" + strings.TrimRight(e.Detail, "\n") +
		"\n\nFor more information, see 'go help module-auth' and https://go.dev/ref/mod#checksum-database"
}

func (e *SecurityError) Class() failure.Class { return failure.SumDBSecurity }

func (e *SecurityError) Hint() string {
	return "do not retry with verification off: the download or the checksum database was tampered with; " +
		"report it, and install from another network or a bundle made elsewhere"
}

// UntrustedError is a download that nothing trustworthy can vouch for.
type UntrustedError struct {
	File string
	Why  error
}

func (e *UntrustedError) Error() string {
	why := "no official index answered and the checksum database could not be reached"
	if e.Why != nil {
		first, _, _ := strings.Cut(e.Why.Error(), "\n")
		why += " (" + first + ")"
	}
	return fmt.Sprintf("no trusted checksum for %s: %s", e.File, why)
}

func (e *UntrustedError) Unwrap() error        { return e.Why }
func (e *UntrustedError) Class() failure.Class { return failure.Untrusted }

// TamperedError is a bundle whose files, entries or proofs do not match: a verification
// failure (exit 4).
type TamperedError struct {
	Path   string
	Reason string
}

func (e *TamperedError) Error() string        { return fmt.Sprintf("bundle %s: %s", e.Path, e.Reason) }
func (e *TamperedError) Class() failure.Class { return failure.ChecksumMismatch }
func (e *TamperedError) Hint() string {
	return "the bundle was changed or damaged after it was made: do not use it; make it again on a connected " +
		"machine ('gostrap bundle verify PATH' lists what differs)"
}

func mismatchDetail(module, got, db, logged string) string {
	return fmt.Sprintf("verifying %s@%s: checksum mismatch\n\tdownloaded: %s\n\t%s: %s\n\n"+
		"This download does NOT match the one reported by the checksum server.\n"+
		"The bits may have been replaced on the origin server, or an attacker may\n"+
		"have intercepted the download attempt.", ToolchainModule, module, got, db, logged)
}
