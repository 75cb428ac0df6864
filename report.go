package gostrap

import (
	"fmt"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// Report is the record of one install: the --json output (README.md, "Exit codes and the JSON
// record"; classes and exit codes in docs/design.md, "Errors").
type Report struct {
	Version string `json:"version"`
	// Platform is what the toolchain was installed for (GOOS/GOARCH).
	Platform string     `json:"platform"`
	GOROOT   string     `json:"goroot"`
	Source   *SourceRef `json:"source"`
	Verified *Verified  `json:"verified"`
	// Attempts lists every source tried, in order, with why it failed (error is null for the
	// one that succeeded).
	Attempts   []Attempt `json:"attempts"`
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	// AlreadyInstalled is true when the version was present and intact: nothing was done.
	AlreadyInstalled bool `json:"already_installed"`
	// Offline says why the install took the offline branch without --offline (every online
	// source failed), when it did.
	Offline string `json:"offline,omitempty"`
	// Current is true when the toolchain is <dir>/current after this run: the first install,
	// --use, or one that already was.
	Current bool `json:"current"`
	// Error is the final failure, when the install failed.
	Error *failure.Problem `json:"error,omitempty"`
}

// suspect reports whether a source failed verification: a possible attack, which the
// offline branch must not paper over.
func (r *Report) suspect() bool {
	for _, a := range r.Attempts {
		if a.Error != nil && a.Error.Class.Verification() {
			return true
		}
	}
	return false
}

// offline adds why the install took the offline branch.
func (r *Report) offline(why string) {
	if r.Offline != "" {
		r.Offline += "; "
	}
	r.Offline += why
}

// describe fills in what a report says about the outcome: the platform, and whether the
// toolchain is now the current one.
func (in *Installer) describe(rep *Report) {
	rep.Platform = in.opts.Platform.String()
	rep.Current = rep.Error == nil && rep.Version != "" && in.opts.Platform == mirror.Host() &&
		in.layout.CurrentVersion() == in.layout.Name(rep.Version)
}

// SourceRef names where the installed bytes came from.
type SourceRef = layout.SourceRef

// Verified says what vouched for the installed bytes (verify.Decide's record).
type Verified = verify.Verified

// Installed is one toolchain in the install directory.
type Installed = layout.Installed

// Meta is the record kept in an installed tree.
type Meta = layout.Meta

// NotInstalledError is a command about a version that is not installed.
type NotInstalledError = layout.NotInstalledError

// Attempt is one source tried.
type Attempt struct {
	Source string `json:"source"`
	Kind   string `json:"kind"`
	URL    string `json:"url"`
	// Stage is what was being done: index, download, verify, extract or install.
	Stage      string           `json:"stage,omitempty"`
	Error      *failure.Problem `json:"error"`
	DurationMS int64            `json:"duration_ms"`
	// Resumes counts the transfers of the download that broke off and were resumed from what
	// had arrived (a cut, a reset, a TLS record error, a stall).
	Resumes int `json:"resumes,omitempty"`
}

// Exit codes (docs/design.md, "Errors").
const (
	ExitOK           = 0
	ExitFailure      = 1
	ExitUsage        = 2
	ExitNoSource     = 3
	ExitVerification = 4
)

// ExitCode is the process exit code for a report: a verification failure anywhere outranks an
// outage, and an outage (every source unreachable or without the release) is 3.
func (r *Report) ExitCode() int {
	if r.Error == nil {
		return ExitOK
	}
	if r.Error.Class.Verification() || r.suspect() {
		return ExitVerification
	}
	if r.Error.Class.Unreachable() {
		return ExitNoSource
	}
	return ExitFailure
}

// InstallError is a failed install; its Report says why, source by source.
type InstallError struct {
	Report *Report
	Err    error
}

func (e *InstallError) Error() string { return e.Err.Error() }
func (e *InstallError) Unwrap() error { return e.Err }

// NoSourceError is the end of a run in which no source could serve the request.
type NoSourceError struct {
	What     string
	Attempts []Attempt
	// Note adds what else was looked for (offline bundles on mounted media).
	Note string
}

func (e *NoSourceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no source could serve %s", e.What)
	for _, a := range e.Attempts {
		if a.Error == nil {
			continue
		}
		fmt.Fprintf(&b, "\n\t%s %s: %s: %s", a.Kind, a.Source, a.Error.Class, firstLine(a.Error.Message))
	}
	if e.Note != "" {
		fmt.Fprintf(&b, "\n\t%s", e.Note)
	}
	return b.String()
}

// Class is the class of the most telling attempt: a verification failure, else the first
// failure (the preferred source's).
func (e *NoSourceError) Class() failure.Class {
	first := failure.Class("")
	for _, a := range e.Attempts {
		if a.Error == nil {
			continue
		}
		if a.Error.Class.Verification() {
			return a.Error.Class
		}
		if first == "" {
			first = a.Error.Class
		}
	}
	if first == "" {
		return failure.NotFound
	}
	return first
}

// Hint is the one next step that fits how the run failed: the verification failure's own
// remedy; offline, how to carry the release in; when no source has the release, how to see
// which exist; otherwise, how to find out what the network allows.
func (e *NoSourceError) Hint() string {
	offline, notFound := len(e.Attempts) > 0, len(e.Attempts) > 0
	for _, a := range e.Attempts {
		if a.Error == nil {
			continue
		}
		if a.Error.Class.Verification() {
			return a.Error.Hint
		}
		if a.Kind != string(KindCache) && a.Kind != string(KindBundle) {
			offline = false
		}
		if a.Error.Class != failure.NotFound {
			notFound = false
		}
	}
	switch {
	case offline:
		return "nothing verified for it is in the download cache or a bundle here: on a machine with " +
			"network, run 'gostrap bundle create --out DIR --version VERSION' and pass --bundle DIR; or run without --offline"
	case notFound:
		return "no source has it: see what exists with 'gostrap list --remote' (--all adds release candidates)"
	}
	return "run 'gostrap doctor' to see what this network allows, or carry Go in with an offline bundle " +
		"(gostrap bundle create on a connected machine, then --bundle PATH)"
}
