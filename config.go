package gostrap

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// ConfigError is a setting gostrap cannot use. It is found before any network traffic: a
// GOSUMDB typo must not cost a 60 MB download first.
type ConfigError struct {
	// Setting names where the value came from: a flag (--goproxy), an environment variable
	// (GOPROXY), or the go command's configuration (go env GOPROXY).
	Setting string
	Value   string
	Err     error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s=%q: %v", e.Setting, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// CheckConfig reads the settings that are only read on demand during a run, GOPROXY and GOSUMDB
// (from Options, the environment or `go env`), and reports the first one that does not parse.
//
// The go command is asked only when the run will read them: with the proxy kind, a mirror (the
// checksum database may vouch for its archives) or a bundle (its proofs are checked with
// GOSUMDB's key) among the sources. Otherwise only the values given are checked.
func (in *Installer) CheckConfig(ctx context.Context) error {
	env := in.givenEnv()
	if in.opts.Offline || slices.ContainsFunc(in.opts.Sources, func(k Kind) bool { return k != KindOfficial }) {
		env = in.goEnv(ctx)
	}
	setting := func(key, opt string) string {
		switch {
		case opt != "":
			return "--" + map[string]string{"GOPROXY": "goproxy", "GOSUMDB": "gosumdb"}[key]
		case os.Getenv(key) != "":
			return key
		}
		return "go env " + key
	}
	if v := env["GOPROXY"]; v != "" {
		if _, err := mirror.ParseGOPROXY(v); err != nil {
			return &ConfigError{Setting: setting("GOPROXY", in.opts.GOPROXY), Value: v, Err: err}
		}
	}
	if _, err := verify.ParseGOSUMDB(env["GOSUMDB"]); err != nil {
		return &ConfigError{Setting: setting("GOSUMDB", in.opts.GOSUMDB), Value: env["GOSUMDB"],
			Err: fmt.Errorf("%w (want sum.golang.org, sum.golang.google.cn, or a verifier key NAME+HASH+KEY, optionally followed by the database's URL)", err)}
	}
	return nil
}
