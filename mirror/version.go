package mirror

import (
	"fmt"
	"go/version"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
)

// SpecKind says how a version request is matched against the releases a source offers.
type SpecKind int

const (
	// Latest is the newest stable release.
	Latest SpecKind = iota
	// Line is the newest stable patch of one minor line ("1.22" means go1.22.x).
	Line
	// Exact is one release ("go1.22.3", "go1.23rc1", "go1.20").
	Exact
)

// Spec is a parsed version request.
type Spec struct {
	Kind SpecKind
	// Version is the release for Exact and the language version for Line ("go1.22"); empty
	// for Latest.
	Version string
	// Raw is what the user typed.
	Raw string
}

func (s Spec) String() string {
	switch s.Kind {
	case Latest:
		return "latest"
	case Line:
		return s.Version + ".x"
	}
	return s.Version
}

// ParseSpec parses a version request: latest, 1.N, 1.N.M, go1.N.M, 1.NrcK, 1.NbetaK.
//
// "1.N" always means the newest patch of that line. "go1.N" does too from 1.21 on, where the
// first release is go1.N.0 and go1.N is only a language version; before 1.21 the first release
// of a line was itself called go1.N, and asking for it by that name gets exactly it.
//
// An empty request is an error, not "latest": `gostrap install ""` is a script whose variable
// was not set.
func ParseSpec(raw string) (Spec, error) {
	s := strings.TrimSpace(raw)
	if s == "latest" || s == "stable" {
		return Spec{Kind: Latest, Raw: raw}, nil
	}
	prefixed := strings.HasPrefix(s, "go")
	v := "go" + strings.TrimPrefix(s, "go")
	if !wellFormed(v) {
		return Spec{}, &SpecError{Raw: raw}
	}
	if version.Lang(v) != v {
		return Spec{Kind: Exact, Version: v, Raw: raw}, nil
	}
	// v is go1.N: a line, unless it was spelled go1.N for a line that predates 1.21.
	if prefixed && minor(v) < 21 {
		return Spec{Kind: Exact, Version: v, Raw: raw}, nil
	}
	return Spec{Kind: Line, Version: v, Raw: raw}, nil
}

// SpecForms are the version requests gostrap reads, for messages.
const SpecForms = "latest, 1.N, 1.N.M, go1.N.M or 1.NrcK"

// SpecError is a version request that is not one of SpecForms.
type SpecError struct{ Raw string }

func (e *SpecError) Error() string {
	if strings.TrimSpace(e.Raw) == "" {
		return "empty version: want " + SpecForms
	}
	return fmt.Sprintf("invalid version %q: want %s", e.Raw, SpecForms)
}

// goVersionRE is how Go releases and language versions are spelled: cmd/go's and x/mod's
// GoVersionRE with the pre-release kinds Go uses. go/version alone accepts "go1.2x" (a
// pre-release of kind "x"), which would make a typo a request for go1.2.
var goVersionRE = regexp.MustCompile(`^go1\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?((rc|beta)[1-9][0-9]*)?$`)

func wellFormed(v string) bool { return goVersionRE.MatchString(v) && version.IsValid(v) }

// minor returns N of go1.N[...].
func minor(v string) int {
	rest := strings.TrimPrefix(version.Lang(v), "go1.")
	n, _ := strconv.Atoi(rest)
	return n
}

// IsRelease reports whether v names a Go release (go1.N, go1.N.M, go1.NrcK, go1.NbetaK) rather
// than only a language version: go1.21 and later lines start at go1.N.0 or go1.NrcK.
func IsRelease(v string) bool {
	if !wellFormed(v) {
		return false
	}
	if version.Lang(v) == v {
		return minor(v) < 21
	}
	return true
}

// IsStable reports whether v is a final release rather than a beta or release candidate.
func IsStable(v string) bool {
	return IsRelease(v) && !strings.Contains(v, "rc") && !strings.Contains(v, "beta")
}

// Resolve picks the release spec asks for among versions (stable tells which are final). It
// returns a not-found error naming the nearest alternatives when none matches.
func Resolve(spec Spec, versions []Version) (string, error) {
	best := ""
	for _, r := range versions {
		if !IsRelease(r.Version) {
			continue
		}
		switch spec.Kind {
		case Latest:
			if !r.Stable {
				continue
			}
		case Line:
			if !r.Stable || version.Lang(r.Version) != spec.Version {
				continue
			}
		case Exact:
			if r.Version != spec.Version {
				continue
			}
		}
		if best == "" || version.Compare(r.Version, best) > 0 {
			best = r.Version
		}
	}
	if best != "" {
		return best, nil
	}
	return "", &NotFoundError{Spec: spec, Near: near(spec, versions)}
}

// Version is one release a source offers.
type Version struct {
	Version string
	Stable  bool
}

// NotFoundError is a version request that no release matches.
type NotFoundError struct {
	Spec Spec
	Near []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no release matches %s", e.Spec)
	if len(e.Near) > 0 {
		msg += " (available: " + strings.Join(e.Near, ", ") + ")"
	}
	return msg
}

// Class makes a version nobody offers a not-found failure.
func (e *NotFoundError) Class() failure.Class { return failure.NotFound }

func near(spec Spec, versions []Version) []string {
	var out []string
	for _, r := range versions {
		if spec.Kind != Latest && version.Lang(r.Version) == version.Lang(spec.Version) {
			out = append(out, r.Version)
		}
	}
	if len(out) == 0 {
		for _, r := range versions {
			if r.Stable {
				out = append(out, r.Version)
			}
		}
	}
	SortVersions(out)
	slices.Reverse(out)
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}

// SortVersions sorts Go versions oldest first.
func SortVersions(vs []string) {
	slices.SortFunc(vs, version.Compare)
}

// CompareVersions compares Go versions (go1.22.3) as go/version does.
func CompareVersions(a, b string) int { return version.Compare(a, b) }
