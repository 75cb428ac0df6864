package mirror

import (
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// Platform is a GOOS/GOARCH pair as the go command spells it.
type Platform struct {
	OS   string
	Arch string
}

// Host is the platform gostrap runs on.
func Host() Platform { return Platform{OS: runtime.GOOS, Arch: runtime.GOARCH} }

var platformWord = regexp.MustCompile(`^[a-z0-9]+$`)

// knownPlatforms are the GOOS/GOARCH pairs Go has supported: `go tool dist list -broken` of Go
// 1.26, and the ports earlier releases had (darwin/386, darwin/arm, windows/arm, nacl).
// A pair outside it cannot name a release, so it is refused before anything is fetched.
var knownPlatforms = map[string][]string{
	"aix":       {"ppc64"},
	"android":   {"386", "amd64", "arm", "arm64"},
	"darwin":    {"386", "amd64", "arm", "arm64"},
	"dragonfly": {"amd64"},
	"freebsd":   {"386", "amd64", "arm", "arm64", "riscv64"},
	"illumos":   {"amd64"},
	"ios":       {"amd64", "arm64"},
	"js":        {"wasm"},
	"linux":     {"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x", "sparc64"},
	"nacl":      {"386", "amd64p32", "arm"},
	"netbsd":    {"386", "amd64", "arm", "arm64"},
	"openbsd":   {"386", "amd64", "arm", "arm64", "mips64", "ppc64", "riscv64"},
	"plan9":     {"386", "amd64", "arm"},
	"solaris":   {"amd64"},
	"wasip1":    {"wasm"},
	"windows":   {"386", "amd64", "arm", "arm64"},
}

// KnownOS lists every GOOS gostrap accepts, sorted.
func KnownOS() []string {
	out := make([]string, 0, len(knownPlatforms))
	for os := range knownPlatforms {
		out = append(out, os)
	}
	slices.Sort(out)
	return out
}

// KnownArch lists every GOARCH gostrap accepts for os, or for any OS when os is "", sorted.
func KnownArch(os string) []string {
	var out []string
	for o, archs := range knownPlatforms {
		if os == "" || o == os {
			out = append(out, archs...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PlatformError is a GOOS/GOARCH pair that names no Go port.
type PlatformError struct {
	Platform Platform
	// Reason says what is wrong and what is accepted instead.
	Reason string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("invalid platform %q: %s", e.Platform.OS+"/"+e.Platform.Arch, e.Reason)
}

// ParsePlatform parses "os/arch".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	p := Platform{OS: os, Arch: arch}
	if !ok {
		return p, &PlatformError{Platform: p, Reason: "want OS/ARCH, e.g. linux/amd64 (see 'go tool dist list')"}
	}
	return p, p.Check()
}

// Check rejects a pair that is not a Go port: the names end up in file names and URLs, and a
// request for a platform nobody builds could only fail later, after network traffic.
func (p Platform) Check() error {
	if !platformWord.MatchString(p.OS) || !platformWord.MatchString(p.Arch) {
		return &PlatformError{Platform: p, Reason: "OS and ARCH are lower-case letters and digits, e.g. linux/amd64"}
	}
	archs, ok := knownPlatforms[p.OS]
	if !ok {
		return &PlatformError{Platform: p, Reason: fmt.Sprintf("GOOS %q is not a Go port; want one of %s",
			p.OS, strings.Join(KnownOS(), ", "))}
	}
	if !slices.Contains(archs, p.Arch) {
		reason := fmt.Sprintf("GOARCH %q is not a Go port on %s; want one of %s", p.Arch, p.OS, strings.Join(archs, ", "))
		if p.Arch == "armv6l" {
			reason = `"armv6l" is how archive names spell GOARCH arm; use arm`
		}
		return &PlatformError{Platform: p, Reason: reason}
	}
	return nil
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// OfficialArch is the architecture as the official download site names it: 32-bit ARM
// archives are built for ARMv6 and called armv6l.
func (p Platform) OfficialArch() string {
	if p.Arch == "arm" {
		return "armv6l"
	}
	return p.Arch
}

// Ext is the archive extension the official site uses for the platform.
func (p Platform) Ext() string {
	if p.OS == "windows" {
		return ".zip"
	}
	return ".tar.gz"
}

// ArchiveName is the official archive file name, e.g. go1.22.3.linux-amd64.tar.gz.
func (p Platform) ArchiveName(goVersion string) string {
	return goVersion + "." + p.OS + "-" + p.OfficialArch() + p.Ext()
}

// ToolchainModule is the module path under which the go command publishes toolchains.
const ToolchainModule = "golang.org/toolchain"

// ToolchainVersion is the version of the golang.org/toolchain module holding goVersion for the
// platform, e.g. v0.0.1-go1.22.3.linux-amd64. The module uses GOARCH as the go command spells
// it (arm, not armv6l).
func (p Platform) ToolchainVersion(goVersion string) string {
	return "v0.0.1-" + goVersion + "." + p.OS + "-" + p.Arch
}

// GoVersionFromToolchain extracts the Go version from a toolchain module version for the
// platform, reporting false when the module version is for another platform.
func (p Platform) GoVersionFromToolchain(modVersion string) (string, bool) {
	rest, ok := strings.CutPrefix(modVersion, "v0.0.1-")
	if !ok {
		return "", false
	}
	v, ok := strings.CutSuffix(rest, "."+p.OS+"-"+p.Arch)
	if !ok || !IsRelease(v) {
		return "", false
	}
	return v, true
}
