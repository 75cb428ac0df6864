package mirrortest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/gostrap/gostrap/mirror"
)

// goCommandSource is a stand-in for the go command that a test can run on any platform:
// 'go version' prints what the real one does, for the release in the VERSION file of the tree
// it is installed in (<GOROOT>/bin/go[.exe] reads <GOROOT>/VERSION), so that one build serves
// every release of a fixture.
const goCommandSource = `// Command go answers 'go version' as the go command of the tree it is installed in.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "version" {
		fmt.Fprintln(os.Stderr, "go (gostrap test stand-in): only 'go version' is known")
		os.Exit(2)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(exe)), "VERSION"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go: cannot find GOROOT's VERSION:", err)
		os.Exit(1)
	}
	v, _, _ := strings.Cut(string(data), "\n")
	fmt.Printf("go version %s %s/%s\n", strings.TrimSpace(v), runtime.GOOS, runtime.GOARCH)
}
`

var goCommands sync.Map // mirror.Platform -> func() ([]byte, error)

// BuildGoCommand cross-compiles, with the go command on PATH, a program for p that answers
// 'go version' as the go command of the tree it is installed in ("go version go1.22.3
// windows/amd64"): Options.GoCommand's bytes. Built once per platform and test binary.
func BuildGoCommand(p mirror.Platform) ([]byte, error) {
	f, _ := goCommands.LoadOrStore(p, sync.OnceValues(func() ([]byte, error) { return buildGoCommand(p) }))
	return f.(func() ([]byte, error))()
}

func buildGoCommand(p mirror.Platform) ([]byte, error) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building the go command stand-in: %w", err)
	}
	dir, err := os.MkdirTemp("", "gostrap-gocmd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, data := range map[string]string{"go.mod": "module gocmd\n\ngo 1.21\n", "main.go": goCommandSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "go.bin")
	cmd := exec.Command(gocmd, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if p.Arch == "arm" {
		cmd.Env = append(cmd.Env, "GOARM=6")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the go command stand-in for %s: %v\n%s", p, err, stderr.Bytes())
	}
	return os.ReadFile(out)
}
