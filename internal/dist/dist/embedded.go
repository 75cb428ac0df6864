package dist

import (
	"fmt"
	"runtime/debug"

	"github.com/gostrap/gostrap/internal/dist/src"
)

// Embedded returns what this binary was built from, when dist built it: the source archive it
// carries (package src) and the module version and h1 sum its build information records. To
// rebuild the binary for other platforms, Extract the archive and Build with Version = version
// and WantSum = sum. ok is false for a binary dist did not build ('go build', 'go install'),
// which carries no source.
func Embedded() (archive []byte, version, sum string, ok bool) {
	archive = src.Archive()
	bi, biOK := debug.ReadBuildInfo()
	if archive == nil || !biOK || bi.Main.Path != ModulePath || bi.Main.Sum == "" {
		return nil, "", "", false
	}
	if v, err := ArchiveVersion(archive); err != nil || v != bi.Main.Version {
		return nil, "", "", false
	}
	return archive, bi.Main.Version, bi.Main.Sum, true
}

// SumMismatchError is a Build whose source is not the one Options.WantSum names.
type SumMismatchError struct {
	Got, Want string
}

func (e *SumMismatchError) Error() string {
	return fmt.Sprintf("dist: the source to build hashes to %s, not %s: it is not the source of the binary being rebuilt", e.Got, e.Want)
}
