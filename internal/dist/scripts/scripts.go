// Package scripts holds install.sh and install.ps1, which gostrap writes at the root of every
// bundle and mirror tree it makes: they pick the tree's gostrap binary for the machine they run
// on (gostrap/<os>-<arch>/gostrap[.exe]), check it against gostrap/SHA256SUMS, and run
// 'gostrap install' with the tree as the source. See the scripts' own comments for usage.
package scripts

import _ "embed"

// File names at the root of a tree.
const (
	InstallSHName  = "install.sh"
	InstallPS1Name = "install.ps1"
)

// InstallSH is install.sh: POSIX sh (dash, busybox, bash, zsh in sh mode), for Linux, macOS and
// FreeBSD.
//
//go:embed install.sh
var InstallSH []byte

// InstallPS1 is install.ps1: Windows PowerShell 5.1 and PowerShell 7, for windows/amd64 and
// windows/arm64.
//
//go:embed install.ps1
var InstallPS1 []byte
