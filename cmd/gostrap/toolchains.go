package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
)

// The commands about toolchains: install, list, use, uninstall, env, exec, which, current.

func runInstall(x *invocation) error {
	var spec mirror.Spec
	var origin string
	if len(x.args) == 1 {
		var err error
		if spec, err = mirror.ParseSpec(x.args[0]); err != nil {
			return err
		}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if spec, origin, err = gostrap.SpecFromDir(wd); err != nil {
			return err
		}
	}
	in, err := x.installer(true)
	if err != nil {
		return err
	}
	if origin != "" {
		x.note("%s asks for %s", origin, spec)
	}
	rep, err := in.Install(x.ctx, spec)
	if x.o.json {
		writeJSON(x.stdout, rep)
		return err
	}
	if err != nil || x.o.quiet {
		return err
	}
	printInstalled(x.stdout, rep, in)
	return nil
}

// printInstalled says what was installed, from where, how it was verified, and whether it is
// the current toolchain now.
func printInstalled(w io.Writer, rep *gostrap.Report, in *gostrap.Installer) {
	current := ""
	if rep.Current {
		current = " (current)"
	}
	if rep.AlreadyInstalled {
		fmt.Fprintf(w, "gostrap: %s is already installed in %s%s\n", rep.Version, rep.GOROOT, current)
	} else {
		fmt.Fprintf(w, "gostrap: installed %s in %s%s\n  from %s %s\n  verified by %s (%s)\n",
			rep.Version, rep.GOROOT, current, rep.Source.Kind, rep.Source.URL, rep.Verified.Method, rep.Verified.Digest)
	}
	if rep.Offline != "" {
		fmt.Fprintf(w, "  offline: %s\n", rep.Offline)
	}
	if !rep.Current && rep.Platform == mirror.Host().String() {
		list, _ := in.List()
		for _, i := range list {
			if i.Current {
				fmt.Fprintf(w, "  the current toolchain is still %s: gostrap use %s switches\n", i.Version, strings.TrimPrefix(rep.Version, "go"))
			}
		}
	}
}

func runList(x *invocation) error {
	if x.o.all && !x.o.remote {
		return usagef("--all lists pre-releases of a source: it needs --remote")
	}
	if x.o.remote {
		return listRemote(x)
	}
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	listed := in.ListAll
	if x.o.goos != "" || x.o.goarch != "" {
		listed = in.List // the installer's platform, --os and --arch
	}
	list, err := listed()
	if err != nil {
		return err
	}
	if list == nil {
		list = []gostrap.Installed{} // --json prints [], not null
	}
	if x.o.json {
		writeJSON(x.stdout, list)
		return nil
	}
	host := mirror.Host().String()
	for _, i := range list {
		mark := "  "
		if i.Current {
			mark = "* "
		}
		name := i.Version
		if i.Platform != host {
			name += " (" + i.Platform + ")"
		}
		fmt.Fprintf(x.stdout, "%s%s\t%s\n", mark, name, i.GOROOT)
	}
	if len(list) == 0 && !x.o.quiet {
		fmt.Fprintf(x.stderr, "gostrap: nothing installed in %s\nhint: run 'gostrap install'\n", in.Dir())
	}
	return nil
}

func listRemote(x *invocation) error {
	in, err := x.installer(true)
	if err != nil {
		return err
	}
	rl, err := in.ListRemote(x.ctx)
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, rl)
		return nil
	}
	x.note("releases from %s %s", rl.Kind, rl.Source)
	for _, r := range rl.Releases {
		// A pre-release is shown when asked for, or when it is installed here.
		if !r.Stable && !x.o.all && !r.Installed {
			continue
		}
		mark := ""
		if r.Installed {
			mark = "  (installed)"
		}
		fmt.Fprintf(x.stdout, "%s%s\n", r.Version, mark)
	}
	return nil
}

func runUse(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	v, err := in.Use(x.args[0])
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, struct {
			Version string `json:"version"`
			GOROOT  string `json:"goroot"`
			Current bool   `json:"current"`
		}{v, filepath.Join(in.Dir(), v), true})
		return nil
	}
	if !x.o.quiet {
		fmt.Fprintf(x.stdout, "gostrap: now using %s\n", v)
	}
	return nil
}

func runUninstall(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	rm, err := in.Uninstall(x.args[0], x.o.force)
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, rm)
		return nil
	}
	if x.o.quiet {
		return nil
	}
	fmt.Fprintf(x.stdout, "gostrap: removed %s\n", rm.Version)
	switch {
	case rm.WasCurrent && rm.Current != "":
		fmt.Fprintf(x.stdout, "gostrap: %s was current; %s is current now\n", rm.Version, rm.Current)
	case rm.WasCurrent:
		fmt.Fprintf(x.stdout, "gostrap: %s was current; no toolchain is current now (gostrap install, or gostrap use VERSION)\n", rm.Version)
	}
	return nil
}

// selectHere picks the toolchain for the command's VERSION argument, else this directory's
// project, else the current one.
func selectHere(x *invocation, in *gostrap.Installer) (*gostrap.Selection, error) {
	raw := ""
	if len(x.args) == 1 {
		raw = x.args[0]
		if strings.TrimSpace(raw) == "" {
			return nil, &mirror.SpecError{Raw: raw}
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return in.Select(raw, wd)
}

func runEnv(x *invocation) error {
	sel, err := installedHere(x)
	if err != nil {
		return err
	}
	root := sel.GOROOT
	if sel.Link != "" {
		root = sel.Link
	}
	e := gostrap.Env{Version: sel.Version, GOROOT: root, Bin: filepath.Join(root, "bin"), From: sel.From}
	if x.o.json {
		writeJSON(x.stdout, e)
		return nil
	}
	sh := x.o.shell
	if sh == "" {
		sh = defaultShell()
	}
	if sh == "github" {
		return githubEnv(e, x.stdout)
	}
	out, err := e.Render(sh)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	fmt.Fprint(x.stdout, out)
	return nil
}

func defaultShell() string {
	s := os.Getenv("SHELL")
	switch {
	case strings.HasSuffix(s, "fish"):
		return "fish"
	case os.Getenv("GITHUB_ACTIONS") == "true":
		return "github"
	case s == "" && os.Getenv("PSModulePath") != "":
		return "powershell"
	}
	return "sh"
}

// githubEnv appends to the files GitHub Actions reads between steps, or prints what it would
// append when they are not set.
func githubEnv(e gostrap.Env, stdout io.Writer) error {
	envFile, pathFile := os.Getenv("GITHUB_ENV"), os.Getenv("GITHUB_PATH")
	if envFile == "" || pathFile == "" {
		fmt.Fprintf(stdout, "echo 'GOROOT=%s' >> \"$GITHUB_ENV\"\necho '%s' >> \"$GITHUB_PATH\"\n", e.GOROOT, e.Bin)
		return nil
	}
	appendLine := func(path, line string) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(f, line); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := appendLine(envFile, "GOROOT="+e.GOROOT); err != nil {
		return err
	}
	if err := appendLine(pathFile, e.Bin); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gostrap: %s added to GITHUB_PATH, GOROOT to GITHUB_ENV\n", e.Bin)
	return nil
}

// installedHere is the toolchain that applies here, which must be installed.
func installedHere(x *invocation) (*gostrap.Selection, error) {
	in, err := x.installer(false)
	if err != nil {
		return nil, err
	}
	sel, err := selectHere(x, in)
	if err != nil {
		return nil, err
	}
	if !sel.Installed {
		return nil, sel.NotInstalled()
	}
	return sel, nil
}

func runWhich(x *invocation) error {
	sel, err := installedHere(x)
	if err != nil {
		return err
	}
	gobin := filepath.Join(sel.GOROOT, "bin", "go"+layout.ExeSuffix(mirror.Host()))
	if x.o.json {
		writeJSON(x.stdout, struct {
			*gostrap.Selection
			Go string `json:"go"`
		}{sel, gobin})
		return nil
	}
	fmt.Fprintln(x.stdout, gobin)
	return nil
}

func runCurrent(x *invocation) error {
	sel, err := installedHere(x)
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, sel)
		return nil
	}
	why := "the current toolchain"
	if sel.From != "current" {
		why = "asked for by " + sel.From
	}
	fmt.Fprintf(x.stdout, "%s\t%s\t(%s)\n", sel.Version, sel.GOROOT, why)
	return nil
}

func runExec(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	sel, err := selectHere(x, in)
	if err != nil {
		return err
	}
	if !sel.Installed {
		// Only an install reads GOPROXY and GOSUMDB (and may ask go env for them): they are
		// checked here, as install checks them, and not on every run of an installed toolchain.
		if err := in.CheckConfig(x.ctx); err != nil {
			return err
		}
		x.note("%s is not installed: installing it", describeSelection(sel))
		rep, err := in.Install(x.ctx, sel.Spec)
		if err != nil {
			return err
		}
		sel.Version, sel.GOROOT = rep.Version, rep.GOROOT
	}
	cmd, err := gostrap.Command(sel.GOROOT, x.after[0], x.after[1:]...)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			fmt.Fprintf(x.stderr, "gostrap: error: %s: command not found in %s/bin or on PATH\n", x.after[0], sel.GOROOT)
			return &exitError{127}
		}
		return err
	}
	// The command's output is its own: it goes to the terminal as it is, not through
	// gostrap's redaction (which is for what gostrap prints).
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = unwrap(x.stdout), unwrap(x.stderr)
	if err := startAndWait(cmd); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &exitError{exitCode(ee)}
		}
		return err
	}
	return nil
}

func describeSelection(sel *gostrap.Selection) string {
	if sel.From == "argument" || sel.From == "current" {
		return sel.Version
	}
	return sel.Version + " (" + sel.From + ")"
}

// unwrap returns the writer under gostrap's redaction.
func unwrap(w io.Writer) io.Writer {
	if r, ok := w.(redacting); ok {
		return r.w
	}
	return w
}
