package winetest_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/dist/winetest"
)

// TestUnitTestsUnderWine cross-compiles the tests of the packages with Windows code paths
// (internal/layout's junctions, retries and removals; internal/failure's Windows codes; the
// extraction's modes and zips; the env output and default folders; installs whose go.exe and
// zip archives are Windows') for windows/amd64, and runs them under wine, so that the Windows
// build of each is what is tested.
func TestUnitTestsUnderWine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("wine runs on Linux")
	}
	w := winetest.Require(t)
	mod := disttest.ModuleDir(t)
	for _, pkg := range []struct {
		dir string
		// skip names tests not run: TestFaultMatrix takes a minute under wine and checks
		// nothing Windows-specific.
		skip string
	}{
		{dir: "internal/layout"},
		{dir: "internal/failure"},
		{dir: "internal/archive"},
		{dir: "verify"},
		{dir: "offline"},
		{dir: "mirror"},
		{dir: ".", skip: "TestFaultMatrix"},
	} {
		t.Run(pkg.dir, func(t *testing.T) {
			s := time.Now()
			exe := winetest.TestExe(t, mod, "./"+pkg.dir)
			built := time.Since(s)
			args := []string{"-test.v"}
			if pkg.skip != "" {
				args = append(args, "-test.skip", pkg.skip)
			}
			cmd := w.Command(exe, args...)
			cmd.Dir = filepath.Join(mod, pkg.dir)
			cmd.Env = append(cmd.Env, download.TestNetworkEnv+"=loopback", "GOSTRAP_LIVE=", "GOSTRAP_TESTNET=")
			s = time.Now()
			out, err := cmd.CombinedOutput()
			text := string(out)
			t.Logf("%s: built in %v, ran in %v: %d passed, %d skipped, %d failed", pkg.dir, built.Round(time.Millisecond),
				time.Since(s).Round(time.Millisecond), strings.Count(text, "--- PASS"), strings.Count(text, "--- SKIP"),
				strings.Count(text, "--- FAIL"))
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, "wine") || strings.Contains(line, "junctions cannot be made") {
					t.Log(strings.TrimSpace(line))
				}
			}
			if err != nil {
				if os.Getenv("GOSTRAP_WINE_LOG") == "" {
					// The failures, not the whole log of every test.
					var keep []string
					for _, line := range strings.Split(text, "\n") {
						if !strings.HasPrefix(line, "=== ") && !strings.HasPrefix(line, "--- PASS") && !strings.Contains(line, "gostrap: ") {
							keep = append(keep, line)
						}
					}
					text = strings.Join(keep, "\n")
				}
				t.Fatalf("%s under wine: %v\n%s", pkg.dir, err, text)
			}
		})
	}
}
