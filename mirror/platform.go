package mirror

import (
	"fmt"
	"regexp"
	"runtime"
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

// ParsePlatform parses "os/arch".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	p := Platform{OS: os, Arch: arch}
	if !ok {
		return p, fmt.Errorf("invalid platform %q: want OS/ARCH, e.g. linux/amd64", s)
	}
	return p, p.Check()
}

// Check rejects names that could not be a GOOS or GOARCH (they end up in file names and URLs).
func (p Platform) Check() error {
	if !platformWord.MatchString(p.OS) || !platformWord.MatchString(p.Arch) {
		return fmt.Errorf("invalid platform %q: OS and ARCH are lower-case letters and digits", p.OS+"/"+p.Arch)
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
