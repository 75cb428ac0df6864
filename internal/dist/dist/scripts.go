package dist

import "github.com/gostrap/gostrap/internal/dist/scripts"

// The install scripts gostrap writes at the root of a tree (see package scripts), and where a
// tree holds the binaries they install from: gostrap/<os>-<arch>/gostrap[.exe] and
// gostrap/SHA256SUMS, that is Build's Out at TreeDir.
var (
	InstallSH  = scripts.InstallSH
	InstallPS1 = scripts.InstallPS1
)

// TreeDir is the directory of a bundle or mirror tree that holds Build's output.
const TreeDir = "gostrap"
