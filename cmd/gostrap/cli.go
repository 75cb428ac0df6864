package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// Version is gostrap's own version: the module version recorded in the binary's build
// information when there is one (dist builds, 'go install ...@vX.Y.Z', a build in a tagged
// checkout), else this.
var Version = "0.1.0-dev"

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
}

// versionText is what 'gostrap version' prints: the version, then what the build information
// says the binary was built from (module version and hash, VCS revision when stamped), by which
// Go, for which platform.
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gostrap %s\n", Version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b.String()
	}
	fmt.Fprintf(&b, "module %s %s", bi.Main.Path, bi.Main.Version)
	if bi.Main.Sum != "" {
		fmt.Fprintf(&b, " %s", bi.Main.Sum)
	}
	b.WriteString("\n")
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			fmt.Fprintf(&b, "%s %s\n", s.Key, s.Value)
		}
	}
	fmt.Fprintf(&b, "%s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

const usage = `gostrap installs Go toolchains, from wherever the network allows.

Usage:
  gostrap install [VERSION]     install latest | 1.N | 1.N.M | go1.N.M | 1.NrcK (default: from
                                go.mod's toolchain or go line, .go-version, else latest)
  gostrap list [--remote]       installed toolchains, or the releases a source offers
  gostrap use VERSION           make an installed toolchain current
  gostrap uninstall VERSION     remove an installed toolchain
  gostrap env [VERSION] [--shell sh|fish|powershell|github]
                                print the environment that puts a toolchain on PATH
  gostrap doctor [URL...]       probe every source (or the URLs) stage by stage: proxy, DNS,
                                TCP, TLS, HTTP; say what fails, why, and what to do
  gostrap bundle create --out PATH [--version V]... [--platform OS/ARCH]... [--archive]
                                carry releases to an air-gapped machine (also a file:// GOPROXY)
  gostrap bundle verify PATH    check a bundle offline: every file, every proof
  gostrap mirror sync --out DIR [--version V | --since 1.N]... [--platform OS/ARCH]...
                                build or update a static mirror tree for a fleet
  gostrap mirror serve DIR [--addr HOST:PORT]
                                serve a tree on the LAN
  gostrap version               print gostrap's version

Common flags (each also an environment variable; see the README):
  --dir DIR  --official URL  --mirror URL  --bundle PATH  --sources official,mirror,proxy,bundle
  --os OS  --arch ARCH  --ca-file FILE  --resolve HOST:PORT:ADDR  --json  --quiet  --offline

Exit codes: 0 installed, 1 other failure, 2 usage, 3 no source could serve the request,
4 verification failed.
`

// Main runs gostrap with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = redacting{stdout}, redacting{stderr}
	ctx, stop := signalContext(stderr)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return gostrap.ExitUsage
	}
	cmd, args := args[0], args[1:]
	var err error
	var jsonOut bool
	switch cmd {
	case "install":
		jsonOut, err = cmdInstall(ctx, args, stdout, stderr)
	case "list", "ls":
		jsonOut, err = cmdList(ctx, args, stdout, stderr)
	case "use":
		err = cmdOne("use", args, stdout, stderr, (*gostrap.Installer).Use, "now using")
	case "uninstall", "remove", "rm":
		err = cmdOne("uninstall", args, stdout, stderr, (*gostrap.Installer).Uninstall, "removed")
	case "env":
		err = cmdEnv(args, stdout, stderr)
	case "doctor":
		jsonOut, err = cmdDoctor(ctx, args, stdout, stderr)
	case "bundle":
		jsonOut, err = cmdBundle(ctx, args, stdout, stderr)
	case "mirror":
		jsonOut, err = cmdMirror(ctx, args, stdout, stderr)
	case "version", "--version":
		fmt.Fprint(stdout, versionText())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q", cmd)
	}
	if ie, ok := context.Cause(ctx).(*interrupted); ok && err != nil {
		// Whatever error the cancellation surfaced as, the run was interrupted.
		fmt.Fprintf(stderr, "gostrap: error: %s\nhint: %s\n", ie, ie.Hint())
		return ie.code()
	}
	return report(err, jsonOut, stderr)
}

// report prints err in gostrap's one voice and returns the exit code.
func report(err error, jsonOut bool, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "gostrap: error: %s\n", ue.msg)
		}
		fmt.Fprintf(stderr, "hint: run 'gostrap help' for usage\n")
		return gostrap.ExitUsage
	}
	p := failure.Explain(err)
	code := gostrap.ExitFailure
	var ie *gostrap.InstallError
	if errors.As(err, &ie) && ie.Report != nil {
		code = ie.Report.ExitCode()
	} else if p.Class.Verification() {
		code = gostrap.ExitVerification
	} else if p.Class.Unreachable() {
		code = gostrap.ExitNoSource
	}
	var se *verify.SecurityError
	if errors.As(err, &se) {
		fmt.Fprintf(stderr, "gostrap: %s\n", p.Message)
	} else {
		fmt.Fprintf(stderr, "gostrap: error: %s\n", p.Message)
	}
	if p.Hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", p.Hint)
	}
	return code
}

func newFlags(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) }

func cmdInstall(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	c, pos, in, err := command("install", args, stderr, nil)
	if err != nil {
		return c.json, err
	}
	if len(pos) > 1 {
		return c.json, usagef("install takes one version, got %q", strings.Join(pos, " "))
	}
	var spec mirror.Spec
	if len(pos) == 1 {
		if spec, err = mirror.ParseSpec(pos[0]); err != nil {
			return c.json, &usageError{err.Error()}
		}
	} else {
		wd, _ := os.Getwd()
		var origin string
		if spec, origin, err = gostrap.SpecFromDir(wd); err != nil {
			return c.json, err
		}
		if origin != "" && !c.quiet {
			fmt.Fprintf(stderr, "gostrap: %s asks for %s\n", origin, spec)
		}
	}
	rep, err := in.Install(ctx, spec)
	if c.json {
		writeJSON(stdout, rep)
	} else if err == nil && !c.quiet {
		if rep.AlreadyInstalled {
			fmt.Fprintf(stdout, "gostrap: %s is already installed in %s\n", rep.Version, rep.GOROOT)
		} else {
			fmt.Fprintf(stdout, "gostrap: installed %s in %s\n  from %s %s\n  verified by %s (%s)\n",
				rep.Version, rep.GOROOT, rep.Source.Kind, rep.Source.URL, rep.Verified.Method, rep.Verified.Digest)
		}
		if rep.Offline != "" {
			fmt.Fprintf(stdout, "  offline: %s\n", rep.Offline)
		}
	}
	if err != nil && !c.json && !c.quiet {
		printAttempts(stderr, rep)
	}
	return c.json, err
}

func printAttempts(w io.Writer, rep *gostrap.Report) {
	if rep == nil || len(rep.Attempts) == 0 {
		return
	}
	fmt.Fprintln(w, "gostrap: sources tried:")
	for _, a := range rep.Attempts {
		if a.Error == nil {
			fmt.Fprintf(w, "  ok    %-8s %s\n", a.Kind, a.URL)
			continue
		}
		fmt.Fprintf(w, "  fail  %-8s %s\n        %s: %s\n", a.Kind, a.URL, a.Error.Class, firstLine(a.Error.Message))
		if a.Error.Hint != "" {
			fmt.Fprintf(w, "        hint: %s\n", a.Error.Hint)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	var remote, all *bool
	c, pos, in, err := command("list", args, stderr, func(fs *flag.FlagSet) {
		remote = fs.Bool("remote", false, "list the releases the first answering source offers")
		all = fs.Bool("all", false, "with --remote, include betas and release candidates")
	})
	if err != nil {
		return c.json, err
	}
	if len(pos) > 0 {
		return c.json, usagef("list takes no arguments")
	}
	if *remote {
		rl, err := in.ListRemote(ctx)
		if err != nil {
			return c.json, err
		}
		if c.json {
			writeJSON(stdout, rl)
			return true, nil
		}
		fmt.Fprintf(stderr, "gostrap: releases from %s %s\n", rl.Kind, rl.Source)
		for _, r := range rl.Releases {
			if !r.Stable && !*all {
				continue
			}
			mark := ""
			if r.Installed {
				mark = "  (installed)"
			}
			fmt.Fprintf(stdout, "%s%s\n", r.Version, mark)
		}
		return false, nil
	}
	list, err := in.List()
	if err != nil {
		return c.json, err
	}
	if c.json {
		if list == nil {
			list = []gostrap.Installed{}
		}
		writeJSON(stdout, list)
		return true, nil
	}
	for _, i := range list {
		mark := "  "
		if i.Current {
			mark = "* "
		}
		fmt.Fprintf(stdout, "%s%s\t%s\n", mark, i.Version, i.GOROOT)
	}
	if len(list) == 0 && !c.quiet {
		fmt.Fprintf(stderr, "gostrap: nothing installed in %s\nhint: run 'gostrap install'\n", in.Dir())
	}
	return false, nil
}

// cmdOne runs a command that takes one installed version: use, uninstall.
func cmdOne(name string, args []string, stdout, stderr io.Writer, act func(*gostrap.Installer, string) (string, error), done string) error {
	c, pos, in, err := command(name, args, stderr, nil)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s takes one version", name)
	}
	v, err := act(in, pos[0])
	if err != nil {
		return err
	}
	if !c.quiet {
		fmt.Fprintf(stdout, "gostrap: %s %s\n", done, v)
	}
	return nil
}

// command parses a subcommand's common flags (and extra ones) and builds its installer.
func command(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*common, []string, *gostrap.Installer, error) {
	c := &common{}
	fs := newFlags(name)
	c.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return c, nil, nil, err
	}
	opts, err := c.options(stderr)
	if err != nil {
		return c, pos, nil, err
	}
	in, err := gostrap.New(opts)
	return c, pos, in, err
}

func cmdEnv(args []string, stdout, stderr io.Writer) error {
	var shell *string
	c, pos, in, err := command("env", args, stderr, func(fs *flag.FlagSet) {
		shell = fs.String("shell", "", "sh | fish | powershell | github (default: from $SHELL)")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("env takes at most one version")
	}
	if _, err := (gostrap.Env{}).Render(*shell); err != nil {
		return &usageError{err.Error()}
	}
	raw := ""
	if len(pos) == 1 {
		raw = pos[0]
	}
	e, err := in.Env(raw)
	if err != nil {
		return err
	}
	if c.json {
		writeJSON(stdout, e)
		return nil
	}
	sh := *shell
	if sh == "" {
		sh = defaultShell()
	}
	out, err := e.Render(sh)
	if err != nil {
		return &usageError{err.Error()}
	}
	if sh == "github" {
		return githubEnv(e, stdout)
	}
	fmt.Fprint(stdout, out)
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
