// Package verify decides whether bytes may be installed. It holds the trust roots of DESIGN.md:
// the official index's sha256, the Go checksum database (a golang.org/x/mod/sumdb client that
// reaches the log through the module proxy as the go command does, with verified tree heads
// and tiles cached for later offline checks), and the toolchain tree hash that lets an
// archive from any mirror be proven genuine against the log.
//
// Rules:
//   - a checksum published by the host that served the bytes proves nothing; it is only used,
//     and loudly, under --insecure-trust-mirror (MethodMirrorSelf);
//   - GOSUMDB=off and GONOSUMDB do not switch the checksum database off for golang.org/toolchain,
//     as the go command refuses to;
//   - any disagreement with the log is a SecurityError: nothing is installed and no other,
//     weaker path is tried for the same bytes.
package verify

import (
	"fmt"
	"strings"

	"github.com/gostrap/gostrap/download"
)

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

// Combine joins methods that all held, strongest first, e.g. "sha256+sumdb-tree".
func Combine(methods ...string) string {
	var out []string
	for _, m := range methods {
		if m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, "+")
}

// MismatchError is a digest that differs from the trusted one.
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

func (e *MismatchError) Class() download.Class { return download.ClassChecksumMismatch }

// SHA256 checks a hex digest against the trusted one.
func SHA256(name, expected, actual, trustedBy string) error {
	if !strings.EqualFold(expected, actual) {
		return &MismatchError{Name: name, Expected: "sha256:" + expected, Actual: "sha256:" + actual, TrustedBy: trustedBy}
	}
	return nil
}

// SecurityError is evidence that the checksum database or the bytes are not what the log
// says: a module hash other than the logged one, or a log that contradicts itself.
type SecurityError struct {
	Detail string
}

func (e *SecurityError) Error() string {
	return "SECURITY ERROR\n" + strings.TrimRight(e.Detail, "\n") +
		"\n\nFor more information, see 'go help module-auth' and https://go.dev/ref/mod#checksum-database"
}

func (e *SecurityError) Class() download.Class { return download.ClassSumDBSecurity }

func (e *SecurityError) Hint() string {
	return "do not retry with verification off: the download or the checksum database was tampered with; " +
		"report it, and install from another network or a bundle made elsewhere"
}
