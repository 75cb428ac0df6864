package dist

import (
	"fmt"
	"strings"
)

// Platform is a target of a dist build.
type Platform struct {
	OS, Arch string
	// ARM is GOARM for Arch "arm".
	ARM string
}

// Platforms are the targets of a full dist build, in the order SHA256SUMS lists them. linux/arm
// is built for ARMv6 (GOARM=6), so it runs on every Raspberry Pi.
var Platforms = []Platform{
	{OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"},
	{OS: "freebsd", Arch: "amd64"},
	{OS: "linux", Arch: "386"},
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm", ARM: "6"},
	{OS: "linux", Arch: "arm64"},
	{OS: "windows", Arch: "amd64"},
	{OS: "windows", Arch: "arm64"},
}

// ParsePlatform parses "os/arch" (or "os-arch") into one of Platforms.
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	if !ok {
		os, arch, ok = strings.Cut(s, "-")
	}
	for _, p := range Platforms {
		if ok && p.OS == os && p.Arch == arch {
			return p, nil
		}
	}
	var names []string
	for _, p := range Platforms {
		names = append(names, p.String())
	}
	return Platform{}, fmt.Errorf("platform %q: dist builds %s", s, strings.Join(names, ", "))
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Dir is the platform's directory in a dist tree: "os-arch".
func (p Platform) Dir() string { return p.OS + "-" + p.Arch }

// Exe is the binary's file name.
func (p Platform) Exe() string {
	if p.OS == "windows" {
		return "gostrap.exe"
	}
	return "gostrap"
}

// Path is the binary's slash-separated path in a dist tree, as SHA256SUMS names it.
func (p Platform) Path() string { return p.Dir() + "/" + p.Exe() }
