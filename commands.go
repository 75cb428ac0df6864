package gostrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
)

// List returns the installed toolchains for the platform, oldest first.
func (in *Installer) List() ([]Installed, error) { return in.layout.List() }

// ListAll returns the installed toolchains for every platform: this machine's first.
func (in *Installer) ListAll() ([]Installed, error) { return in.layout.ListAll() }

// Use makes an installed version current and returns it.
func (in *Installer) Use(raw string) (string, error) { return in.layout.Use(raw) }

// Removal is what Uninstall did.
type Removal = layout.Removal

// AmbiguousError is a request that matches several installed toolchains where one is needed.
type AmbiguousError = layout.AmbiguousError

// CurrentError refuses to remove the current toolchain without force.
type CurrentError = layout.CurrentError

// Uninstall removes the one installed toolchain raw names (1.22 must match exactly one). The
// current toolchain is removed only with force, and the newest remaining one becomes current.
func (in *Installer) Uninstall(raw string, force bool) (*Removal, error) {
	return in.layout.Uninstall(raw, force)
}

// Remote is a release a source offers.
type Remote struct {
	Version   string `json:"version"`
	Stable    bool   `json:"stable"`
	Installed bool   `json:"installed"`
}

// RemoteList is what list --remote prints: the releases and which index they came from.
type RemoteList struct {
	Source   string    `json:"source"`
	Kind     string    `json:"kind"`
	Releases []Remote  `json:"releases"`
	Attempts []Attempt `json:"attempts"`
}

// ListRemote returns the releases for the platform from the first index that answers, newest
// first.
func (in *Installer) ListRemote(ctx context.Context) (*RemoteList, error) {
	srcs, err := in.Sources(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Attempts: []Attempt{}}
	r := newRun(ctx, in, rep, srcs)
	defer r.close()
	installed := map[string]bool{}
	if list, err := in.layout.List(); err == nil {
		for _, i := range list {
			installed[i.Version] = true
		}
	}
	s, vs, err := r.firstVersions(ctx)
	if err != nil {
		return nil, &InstallError{Report: rep, Err: err}
	}
	names := make([]string, 0, len(vs))
	stable := map[string]bool{}
	for _, v := range vs {
		names = append(names, v.Version)
		stable[v.Version] = v.Stable
	}
	mirror.SortVersions(names)
	out := &RemoteList{Source: failure.Redact(s.URL), Kind: string(s.Kind), Attempts: rep.Attempts}
	for i := len(names) - 1; i >= 0; i-- {
		out.Releases = append(out.Releases, Remote{Version: names[i], Stable: stable[names[i]], Installed: installed[names[i]]})
	}
	return out, nil
}

// Env is what a shell needs to use a toolchain.
type Env struct {
	Version string `json:"version"`
	GOROOT  string `json:"goroot"`
	Bin     string `json:"bin"`
	// From says what chose the toolchain (see Selection).
	From string `json:"from,omitempty"`
}

// Selection is the toolchain a command run in a directory gets (env, exec, which, current): the
// version asked for, else the one the project's go.mod or .go-version asks for (found as
// install finds it), else the current one.
type Selection struct {
	Version string `json:"version"`
	// GOROOT is the toolchain's directory; empty when it is not installed.
	GOROOT string `json:"goroot"`
	// Link is <dir>/current when the selection is the current toolchain and the link leads
	// to it: a shell that puts it on PATH follows a later 'gostrap use'.
	Link string `json:"link,omitempty"`
	// From says what chose it: "argument", the path of a go.mod or .go-version, or "current".
	From      string      `json:"from"`
	Installed bool        `json:"installed"`
	Spec      mirror.Spec `json:"-"`
}

// Select picks the toolchain for raw (a version request, or "" for the project's) in dir.
// A request that no installed toolchain satisfies is returned with Installed false: exec
// installs it, env and which report it.
func (in *Installer) Select(raw, dir string) (*Selection, error) {
	var spec mirror.Spec
	from := "argument"
	if raw != "" {
		var err error
		if spec, err = mirror.ParseSpec(raw); err != nil {
			return nil, err
		}
	} else {
		var err error
		if spec, from, err = SpecFromDir(dir); err != nil {
			return nil, err
		}
		if from == "" {
			root, v, err := in.layout.CurrentGOROOT()
			if err != nil {
				return nil, err
			}
			sel := &Selection{Version: v, GOROOT: in.layout.GOROOT(v), From: "current",
				Installed: true, Spec: mirror.Spec{Kind: mirror.Exact, Version: v}}
			if root != sel.GOROOT {
				sel.Link = root
			}
			return sel, nil
		}
	}
	sel := &Selection{Version: spec.Version, From: from, Spec: spec}
	if spec.Kind == mirror.Latest {
		sel.Version = "latest"
	}
	if v, err := in.layout.FindSpec(spec); err == nil {
		sel.Version, sel.GOROOT, sel.Installed = v, in.layout.GOROOT(v), true
	}
	return sel, nil
}

// NotInstalled is the error for a selection that is not installed: what asked for it, and how
// to install it.
func (s *Selection) NotInstalled() error {
	err := &NotInstalledError{Version: s.Version}
	if s.From == "argument" {
		return err
	}
	return &selectionError{from: s.From, err: err}
}

type selectionError struct {
	from string
	err  *NotInstalledError
}

func (e *selectionError) Error() string {
	return e.from + " asks for " + e.err.Version + ", which is not installed"
}
func (e *selectionError) Unwrap() error { return e.err }
func (e *selectionError) Hint() string {
	return "run 'gostrap install' here to install what " + filepath.Base(e.from) + " asks for"
}

// Shells are the formats Render knows.
var Shells = []string{"sh", "fish", "powershell", "cmd", "github"}

// Render prints e for a shell: sh (also bash and zsh), fish, powershell, cmd, or github (the
// lines a GitHub Actions step appends to $GITHUB_ENV and $GITHUB_PATH). Under Git Bash and the
// other MSYS2 shells (MSYSTEM set, on Windows), sh and fish get PATH's entry in POSIX form.
func (e Env) Render(shell string) (string, error) {
	return e.render(shell, runtime.GOOS == "windows" && os.Getenv("MSYSTEM") != "")
}

// render is Render with the MSYS2 question answered: msys says the shell's PATH holds POSIX
// paths separated by colons (/c/Users/ann/...), so that a Windows path (C:\Users\...) there
// would be split at its drive's colon. GOROOT keeps its Windows form: the go command, a
// Windows program, reads it.
func (e Env) render(shell string, msys bool) (string, error) {
	bin := e.Bin
	if msys {
		bin = msysPath(bin)
	}
	switch shell {
	case "sh", "bash", "zsh", "":
		return fmt.Sprintf("export GOROOT=%s\nexport PATH=%s:\"$PATH\"\n", shQuote(e.GOROOT), shQuote(bin)), nil
	case "fish":
		return fmt.Sprintf("set -gx GOROOT %s\nset -gx PATH %s $PATH\n", shQuote(e.GOROOT), shQuote(bin)), nil
	case "powershell", "pwsh":
		return fmt.Sprintf("$env:GOROOT = %s\n$env:PATH = %s + [IO.Path]::PathSeparator + $env:PATH\n", psQuote(e.GOROOT), psQuote(e.Bin)), nil
	case "cmd":
		// Lines for a batch file (gostrap env --shell cmd > go-env.cmd, then call go-env.cmd):
		// set "NAME=value" keeps & ^ | < > in the value literal, %% is a percent sign there,
		// and %PATH% is expanded when the line runs. CRLF, as batch files have them.
		return fmt.Sprintf("set \"GOROOT=%s\"\r\nset \"PATH=%s;%%PATH%%\"\r\n", cmdQuote(e.GOROOT), cmdQuote(e.Bin)), nil
	case "github":
		return fmt.Sprintf("GOROOT=%s\n%s\n", e.GOROOT, e.Bin), nil
	}
	return "", fmt.Errorf("unknown shell %q: want %s", shell, strings.Join(Shells, ", "))
}

func shQuote(s string) string  { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
func psQuote(s string) string  { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func cmdQuote(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// msysPath is the POSIX form MSYS2 shells (Git Bash) give an absolute Windows path:
// C:\Users\ann is /c/Users/ann, \\host\share\x is //host/share/x, and the \\?\ prefix goes.
// Anything else only has its backslashes turned into slashes.
func msysPath(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	if rest, ok := strings.CutPrefix(p, "//?/"); ok {
		p = rest
		if unc, ok := strings.CutPrefix(p, "UNC/"); ok {
			p = "//" + unc
		}
	}
	if len(p) >= 2 && p[1] == ':' && (len(p) == 2 || p[2] == '/') &&
		('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z') {
		return "/" + strings.ToLower(p[:1]) + p[2:]
	}
	return p
}
