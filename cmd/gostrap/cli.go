package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
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

// Main runs gostrap with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = redacting{stdout}, redacting{stderr}
	ctx, stop := signalContext(stderr)
	defer stop()
	if len(args) == 0 {
		writeHelp(stderr, nil)
		return gostrap.ExitUsage
	}
	cmd, rest, err := lookup(args)
	if err != nil {
		return report(err, nil, stderr)
	}
	x := &invocation{ctx: ctx, cmd: cmd, o: newOpts(), stdout: stdout, stderr: stderr}
	if err := x.parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, cmd)
			return 0
		}
		return report(err, x, stderr)
	}
	err = cmd.run(x)
	if ie, ok := context.Cause(ctx).(*interrupted); ok && err != nil {
		// Whatever error the cancellation surfaced as, the run was interrupted.
		err = ie
	}
	return report(err, x, stderr)
}

// invocation is one command being run: its flags, arguments and output.
type invocation struct {
	ctx context.Context
	cmd *command
	o   *opts
	f   *flagSet
	// args are the positional arguments; after are those after "--" (exec's command).
	args, after    []string
	stdout, stderr io.Writer
}

// parse reads the command line and the environment, and checks every value: bad input is
// refused here, before anything reaches the network.
func (x *invocation) parse(args []string) error {
	x.f = x.cmd.flagSet(x.o)
	if x.cmd.rest {
		if i := slices.Index(args, "--"); i >= 0 {
			args, x.after = args[:i], args[i+1:]
		}
	}
	pos, err := x.f.parse(args)
	if err != nil {
		return err
	}
	if x.cmd.rest && len(x.after) == 0 {
		return usagef("gostrap %s needs -- and a command: gostrap %s %s", x.cmd.name, x.cmd.name, x.cmd.argsUsage)
	}
	x.args = pos
	if x.cmd.maxArgs >= 0 && len(pos) > x.cmd.maxArgs || len(pos) < x.cmd.minArgs {
		return x.argError()
	}
	return x.o.validate(x.f)
}

func (x *invocation) argError() error {
	switch {
	case x.cmd.maxArgs == 0:
		return usagef("gostrap %s takes no arguments, got %q", x.cmd.name, strings.Join(x.args, " "))
	case len(x.args) < x.cmd.minArgs:
		return usagef("gostrap %s needs %s", x.cmd.name, x.cmd.argsUsage)
	}
	return usagef("gostrap %s takes %s, got %q", x.cmd.name, x.cmd.argsUsage, strings.Join(x.args, " "))
}

// installer builds the library's Installer from the flags. For commands that reach sources
// (check), the settings read on demand (GOPROXY, GOSUMDB, from flags, environment or go env)
// are checked too, still before any network traffic.
func (x *invocation) installer(check bool) (*gostrap.Installer, error) {
	in, err := gostrap.New(x.o.options(x.stderr))
	if err != nil {
		return nil, err
	}
	if check {
		if err := in.CheckConfig(x.ctx); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// note prints a line for a person on stderr, unless --quiet or --json.
func (x *invocation) note(format string, args ...any) {
	if x.o.logging() {
		fmt.Fprintf(x.stderr, "gostrap: "+format+"\n", args...)
	}
}

// exitError ends gostrap with a code and nothing more to say (exec's command's own code).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// report prints err in gostrap's one voice (gostrap: error: what failed, then hint: what to
// run next) and returns the exit code.
func report(err error, x *invocation, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	help := "gostrap help"
	var ue *usageError
	if x != nil {
		help += " " + x.cmd.name
	} else if errors.As(err, &ue) && ue.cmd != "" {
		help += " " + ue.cmd
	}
	if msg, hint, ok := badInput(err); ok {
		fmt.Fprintf(stderr, "gostrap: error: %s\n", msg)
		if hint == "" {
			hint = "run '" + help + "' for usage"
		}
		fmt.Fprintf(stderr, "hint: %s\n", hint)
		return gostrap.ExitUsage
	}
	p := failure.Explain(err)
	code := gostrap.ExitFailure
	msg := p.Message
	var ie *gostrap.InstallError
	var sig *interrupted
	if errors.As(err, &ie) && ie.Report != nil {
		code = ie.Report.ExitCode()
	} else if errors.As(err, &sig) {
		code = sig.code()
	} else if p.Class.Verification() {
		code = gostrap.ExitVerification
	} else if p.Class.Unreachable() {
		code = gostrap.ExitNoSource
	}
	var ns *gostrap.NoSourceError
	if errors.As(err, &ns) && x != nil && x.o.logging() {
		// Each source's cause was printed as it happened: say the outcome once.
		msg = firstLine(msg)
	}
	var se *verify.SecurityError
	if errors.As(err, &se) {
		fmt.Fprintf(stderr, "gostrap: %s\n", msg)
	} else {
		fmt.Fprintf(stderr, "gostrap: error: %s\n", msg)
	}
	if p.Hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", p.Hint)
	}
	return code
}

// badInput reports whether err is bad input (exit 2): the command line, a value, a version, a
// platform, a setting, a go.mod line, or a version that names several toolchains. The
// message names the offending value and the accepted forms.
func badInput(err error) (msg, hint string, ok bool) {
	var (
		ue  *usageError
		se  *mirror.SpecError
		pe  *mirror.PlatformError
		ce  *gostrap.ConfigError
		vfe *gostrap.VersionFileError
		ae  *gostrap.AmbiguousError
	)
	switch {
	case errors.As(err, &ue):
		return ue.msg, "", true
	case errors.As(err, &vfe):
		return failure.Redact(vfe.Error()), vfe.Hint(), true
	case errors.As(err, &ae):
		return ae.Error(), ae.Hint(), true
	case errors.As(err, &se), errors.As(err, &pe), errors.As(err, &ce):
		return failure.Redact(err.Error()), "", true
	}
	return "", "", false
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
