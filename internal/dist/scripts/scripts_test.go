package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/dist/scripts"
)

// TestASCII: Windows PowerShell 5.1 reads a script without a byte-order mark as ANSI, so
// install.ps1 must be ASCII; install.sh too, for any shell's locale.
func TestASCII(t *testing.T) {
	for name, data := range map[string][]byte{"install.sh": scripts.InstallSH, "install.ps1": scripts.InstallPS1} {
		for i, b := range data {
			if b >= 0x80 || b < 0x20 && b != '\n' && b != '\t' {
				t.Errorf("%s: byte %#x at offset %d (line %d)", name, b, i, 1+strings.Count(string(data[:i]), "\n"))
				break
			}
		}
	}
}

// TestShellcheck runs shellcheck on install.sh when it is installed.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (apt-get install shellcheck)")
	}
	if out, err := exec.Command("shellcheck", "-s", "sh", "install.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck install.sh: %v\n%s", err, out)
	}
}

// TestInstallPS1Parses parses install.ps1 with tree-sitter-powershell, the one check of it this
// Linux machine can make: no PowerShell here. GOSTRAP_PS_PARSER names a directory where
// 'npm install tree-sitter@0.25.1 tree-sitter-powershell@0.26.4' ran (.ci/run makes one).
func TestInstallPS1Parses(t *testing.T) {
	dir := os.Getenv("GOSTRAP_PS_PARSER")
	if dir == "" {
		t.Skip("set GOSTRAP_PS_PARSER to a directory where 'npm install tree-sitter@0.25.1 tree-sitter-powershell@0.26.4' ran")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	ps1, _ := filepath.Abs("install.ps1")
	out, err := exec.Command(node, "--no-deprecation", filepath.Join("testdata", "pscheck.mjs"), dir, ps1).CombinedOutput()
	if err != nil {
		t.Errorf("install.ps1 does not parse: %v\n%s", err, out)
	}
}
