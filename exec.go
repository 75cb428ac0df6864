package gostrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Command returns cmd to run with the toolchain at goroot: GOROOT set, goroot/bin first on
// PATH, and GOTOOLCHAIN=local unless the environment sets it, so that the go command runs the
// toolchain chosen here rather than downloading another one for the project. A name without a
// path separator is looked up in goroot/bin first, then on PATH: "go" is the toolchain's go.
func Command(goroot, name string, args ...string) (*exec.Cmd, error) {
	bin := filepath.Join(goroot, "bin")
	path := name
	if !strings.ContainsAny(name, `/\`) {
		if p, err := exec.LookPath(filepath.Join(bin, name)); err == nil {
			path = p
		} else if p, err := exec.LookPath(name); err == nil {
			path = p
		} else {
			return nil, err
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Args[0] = name
	env := os.Environ()
	env = setEnv(env, "GOROOT", goroot)
	oldPath, _ := lookupEnv(env, "PATH")
	if oldPath != "" {
		bin += string(os.PathListSeparator) + oldPath
	}
	env = setEnv(env, "PATH", bin)
	if _, ok := lookupEnv(env, "GOTOOLCHAIN"); !ok {
		env = setEnv(env, "GOTOOLCHAIN", "local")
	}
	cmd.Env = env
	return cmd, nil
}

// envKeyEqual compares environment variable names as the OS does: Windows ignores case
// (PATH is usually spelled Path there).
func envKeyEqual(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && envKeyEqual(k, key) {
			return v, true
		}
	}
	return "", false
}

func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && envKeyEqual(k, key) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}
