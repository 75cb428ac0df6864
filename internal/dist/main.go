// Command dist builds gostrap's release binaries, reproducibly, for every platform gostrap ships
// on, and writes SHA256SUMS beside them:
//
//	go run ./internal/dist -out DIR [-version vX.Y.Z] [-platform os/arch]... [-go GO] [-j N]
//
// DIR gets <os>-<arch>/gostrap[.exe] and SHA256SUMS, the layout install.sh and install.ps1
// expect under gostrap/ in a bundle or mirror tree. The version defaults to the checkout's:
// its tag when HEAD is tagged vX.Y.Z, else a Go pseudo-version of HEAD. Dependencies come from
// the machine's module cache when it has them, else from GOPROXY, and are checked against
// go.sum. Two runs with the same Go release and source give the same bytes (see
// internal/dist/dist for how).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

type platforms []dist.Platform

func (ps *platforms) String() string { return fmt.Sprint(*ps) }
func (ps *platforms) Set(s string) error {
	p, err := dist.ParsePlatform(s)
	if err != nil {
		return err
	}
	*ps = append(*ps, p)
	return nil
}

func main() {
	var ps platforms
	out := flag.String("out", "", "output directory (required)")
	version := flag.String("version", "", "module version to record (default: from git)")
	goBin := flag.String("go", "go", "go command to build with")
	goproxy := flag.String("goproxy", "", "GOPROXY for dependencies (default: the module cache, then go env GOPROXY)")
	jobs := flag.Int("j", 0, "builds at once (default GOMAXPROCS)")
	source := flag.String("source", "", "also write the source archive the binaries embed to this file")
	flag.Var(&ps, "platform", "os/arch to build, repeatable (default: all)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./internal/dist -out DIR [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *version, *goBin, *goproxy, *source, *jobs, ps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, version, goBin, goproxy, source string, jobs int, ps []dist.Platform) error {
	modDir, err := goOutput(ctx, goBin, "env", "GOMOD")
	if err != nil {
		return err
	}
	if modDir == "" || modDir == os.DevNull {
		return fmt.Errorf("dist: run from inside the gostrap module")
	}
	modDir = filepath.Dir(modDir)
	if version == "" {
		if version, err = gitVersion(ctx, modDir); err != nil {
			return err
		}
	}
	if goproxy == "" {
		// The machine's module cache first (it holds what this checkout's builds and tests
		// used, so a dist build works offline), then the configured proxies.
		cache, err := goOutput(ctx, goBin, "env", "GOMODCACHE")
		if err != nil {
			return err
		}
		upstream, err := goOutput(ctx, goBin, "env", "GOPROXY")
		if err != nil {
			return err
		}
		goproxy = "file://" + filepath.ToSlash(filepath.Join(cache, "cache", "download"))
		if !strings.HasPrefix(goproxy, "file:///") {
			goproxy = "file:///" + strings.TrimPrefix(goproxy, "file://")
		}
		if upstream != "" && upstream != "off" {
			goproxy += "," + upstream
		}
	}
	start := time.Now()
	res, err := dist.Build(ctx, dist.Options{
		ModuleDir: modDir, Out: out, Version: version, Platforms: ps, GoBin: goBin,
		GOPROXY: goproxy, Jobs: jobs, Log: os.Stderr,
	})
	if res != nil && source != "" && res.Archive != nil {
		if err := os.WriteFile(source, res.Archive, 0o644); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dist: %s %s (%s), %d binaries in %s, %v\n", dist.ModulePath, res.Version, res.Sum,
		len(res.Binaries), out, time.Since(start).Round(time.Millisecond))
	return nil
}

func goOutput(ctx context.Context, goBin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, args...).Output()
	if err != nil {
		return "", fmt.Errorf("dist: %s %s: %w", goBin, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitVersion is the checkout's version: the vX.Y.Z tag at HEAD, else a pseudo-version of HEAD
// (based on the latest tag before it), as the go command would name the commit.
func gitVersion(ctx context.Context, dir string) (string, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("dist: not a git checkout (%v): pass -version", err)
	}
	if st, _ := git("status", "--porcelain", "--untracked-files=no"); st != "" {
		fmt.Fprintf(os.Stderr, "dist: warning: the checkout has uncommitted changes: the version names HEAD (%.12s), the binaries hold the working tree (their h1 says which)\n", rev)
	}
	tags, _ := git("tag", "--points-at", "HEAD", "--list", "v*")
	for _, t := range strings.Fields(tags) {
		if semver.IsValid(t) && semver.Canonical(t) == t && semver.Build(t) == "" {
			return t, nil
		}
	}
	older, _ := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD")
	if !semver.IsValid(older) || semver.Canonical(older) != older {
		older = ""
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return "", fmt.Errorf("dist: git log: %w", err)
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", fmt.Errorf("dist: git log: %w", err)
	}
	return module.PseudoVersion("", older, time.Unix(sec, 0), rev[:12]), nil
}
