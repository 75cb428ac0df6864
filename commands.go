package gostrap

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
)

// List returns the installed toolchains for the platform, oldest first.
func (in *Installer) List() ([]Installed, error) { return in.layout.List() }

// Use makes an installed version current and returns it.
func (in *Installer) Use(raw string) (string, error) { return in.layout.Use(raw) }

// Uninstall removes an installed version and returns it.
func (in *Installer) Uninstall(raw string) (string, error) { return in.layout.Uninstall(raw) }

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
	installed := map[string]bool{}
	if list, err := in.List(); err == nil {
		for _, i := range list {
			installed[i.Version] = true
		}
	}
	for _, s := range srcs.indexOrder() {
		vs, err := r.versions(ctx, s)
		if final(err) {
			return nil, &InstallError{Report: rep, Err: err}
		}
		if err != nil || len(vs) == 0 {
			continue
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
	return nil, &InstallError{Report: rep, Err: &NoSourceError{What: "the list of releases", Attempts: rep.Attempts}}
}

// Env is what a shell needs to use a toolchain.
type Env struct {
	Version string `json:"version"`
	GOROOT  string `json:"goroot"`
	Bin     string `json:"bin"`
}

// Env returns the environment for an installed version, or for the current link when raw is
// empty (so that a later 'gostrap use' takes effect without re-running env).
func (in *Installer) Env(raw string) (Env, error) {
	if raw == "" && !in.layout.HasCurrent() {
		return Env{}, &NotInstalledError{Version: ""}
	}
	root, v, err := in.layout.GOROOTFor(raw)
	if err != nil {
		return Env{}, err
	}
	return Env{Version: v, GOROOT: root, Bin: filepath.Join(root, "bin")}, nil
}

// Shells are the formats Render knows.
var Shells = []string{"sh", "fish", "powershell", "github"}

// Render prints e for a shell: sh (also bash and zsh), fish, powershell, or github (the lines
// a GitHub Actions step appends to $GITHUB_ENV and $GITHUB_PATH).
func (e Env) Render(shell string) (string, error) {
	switch shell {
	case "sh", "bash", "zsh", "":
		return fmt.Sprintf("export GOROOT=%s\nexport PATH=%s:\"$PATH\"\n", shQuote(e.GOROOT), shQuote(e.Bin)), nil
	case "fish":
		return fmt.Sprintf("set -gx GOROOT %s\nset -gx PATH %s $PATH\n", shQuote(e.GOROOT), shQuote(e.Bin)), nil
	case "powershell", "pwsh":
		return fmt.Sprintf("$env:GOROOT = %s\n$env:PATH = %s + [IO.Path]::PathSeparator + $env:PATH\n", psQuote(e.GOROOT), psQuote(e.Bin)), nil
	case "github":
		return fmt.Sprintf("GOROOT=%s\n%s\n", e.GOROOT, e.Bin), nil
	}
	return "", fmt.Errorf("unknown shell %q: want %s", shell, strings.Join(Shells, ", "))
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
