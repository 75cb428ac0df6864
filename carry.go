package gostrap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gostrap/gostrap/internal/dist/dist"
	"github.com/gostrap/gostrap/internal/dist/scripts"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
)

// Trees carry gostrap (docs/design.md, "Trees carry gostrap"): a bundle or fleet tree holds
// gostrap/<os>-<arch>/gostrap[.exe] for each of its platforms, listed in gostrap/SHA256SUMS and
// in the manifest, with install.sh and install.ps1 at its root, so that a machine with neither
// Go nor a network can start from the tree alone.
//
// Where the binaries come from, in order:
//   - a directory made by `go run ./internal/dist` (TreeOptions.GostrapDist), checked against its
//     SHA256SUMS;
//   - else this gostrap rebuilds itself from the module source it carries (a dist build embeds
//     it), with exactly the Go release it was built with: installed through the configured
//     sources and verified like any install, or, where no source has that release, the go
//     command on PATH if it is that release (said so). Dependencies come through GOPROXY and
//     are checked against gostrap's own go.sum; the flags are dist's, so the bytes are the ones
//     `go run ./internal/dist` makes.
//   - else (a plain `go build` carries no source) the tree holds no gostrap, and says how to
//     give it one.
//
// A platform that cannot be built is reported, never silently skipped.

const gostrapDir = "gostrap"

// carryGostrap puts gostrap for the tree's platforms into the tree. missing says what could not
// be put there and why; err is a failure that ends the sync (the disk, a tampered dist tree).
func (r *run) carryGostrap(ctx context.Context, w *offline.Writer, o TreeOptions, rep *TreeReport) (missing []string, err error) {
	var want []dist.Platform
	for _, p := range o.Platforms {
		dp, err := dist.ParsePlatform(p.String())
		if err != nil {
			missing = append(missing, "no gostrap for "+p.String()+": "+err.Error())
			continue
		}
		want = append(want, dp)
	}
	if len(want) == 0 {
		return missing, nil
	}
	if err := os.MkdirAll(w.Tmp(), 0o755); err != nil {
		return missing, &failure.DiskError{Op: "create", Path: w.Tmp(), Err: err}
	}
	tmp, err := os.MkdirTemp(w.Tmp(), "gostrap-")
	if err != nil {
		return missing, &failure.DiskError{Op: "create", Path: w.Tmp(), Err: err}
	}
	defer layout.RemoveAll(tmp)

	var bins map[dist.Platform]string // platform -> file in tmp or in the dist tree
	var version string
	switch {
	case o.GostrapDist != "":
		bins, version, err = fromDist(o.GostrapDist, want)
		if err != nil {
			return missing, err
		}
	default:
		archive, v, sum, ok := dist.Embedded()
		if !ok {
			missing = append(missing, "no gostrap binaries: this gostrap was not built by dist and carries no source to "+
				"rebuild itself from; make them with 'go run ./internal/dist -out DIR' in a checkout and pass --gostrap-dist DIR")
			return missing, nil
		}
		if prev := w.PreviousGostrap(); prev != nil && prev.Version == v && r.haveGostrap(w, want) {
			rep.Reused += len(want)
			w.SetGostrap(*prev)
			return missing, r.putScripts(w)
		}
		var failed []string
		bins, failed, err = r.rebuild(ctx, archive, v, sum, want, tmp)
		if err != nil {
			return missing, err
		}
		missing = append(missing, failed...)
		version = v
	}
	var sums bytes.Buffer
	var platforms []string
	for _, p := range dist.Platforms { // SHA256SUMS in dist's order
		src, ok := bins[p]
		if !ok {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return missing, &failure.DiskError{Op: "read", Path: src, Err: err}
		}
		if err := w.PutMode(path.Join(gostrapDir, p.Path()), data, 0o755); err != nil {
			return missing, err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), p.Path())
		platforms = append(platforms, p.String())
		rep.Added++
	}
	if len(platforms) == 0 {
		return missing, nil
	}
	if err := w.Put(path.Join(gostrapDir, dist.SumsName), sums.Bytes()); err != nil {
		return missing, err
	}
	w.SetGostrap(offline.GostrapSet{Version: version, Platforms: platforms})
	return missing, r.putScripts(w)
}

// putScripts writes install.sh and install.ps1 at the tree's root.
func (r *run) putScripts(w *offline.Writer) error {
	if err := w.PutMode(scripts.InstallSHName, scripts.InstallSH, 0o755); err != nil {
		return err
	}
	return w.Put(scripts.InstallPS1Name, scripts.InstallPS1)
}

// haveGostrap reports whether the tree already holds gostrap for every platform, as listed.
func (r *run) haveGostrap(w *offline.Writer, want []dist.Platform) bool {
	for _, p := range want {
		if !w.Have(path.Join(gostrapDir, p.Path())) {
			return false
		}
	}
	return w.Have(path.Join(gostrapDir, dist.SumsName))
}

// fromDist takes the binaries for want from a dist output directory, each checked against its
// SHA256SUMS. A platform the directory lacks is an error: the user named it as the source.
func fromDist(dir string, want []dist.Platform) (map[dist.Platform]string, string, error) {
	sums, err := os.ReadFile(filepath.Join(dir, dist.SumsName))
	if err != nil {
		return nil, "", fmt.Errorf("--gostrap-dist %s: %w", dir, err)
	}
	listed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		if hexSum, p, ok := strings.Cut(sc.Text(), "  "); ok {
			listed[p] = hexSum
		}
	}
	out := map[dist.Platform]string{}
	version := ""
	for _, p := range want {
		file := filepath.Join(dir, filepath.FromSlash(p.Path()))
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("--gostrap-dist %s has no gostrap for %s: %w", dir, p, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); listed[p.Path()] != got {
			return nil, "", fmt.Errorf("--gostrap-dist %s: %s has sha256 %s, its %s says %q", dir, p.Path(), got, dist.SumsName, listed[p.Path()])
		}
		if bi, err := buildinfo.Read(bytes.NewReader(data)); err == nil && version == "" {
			version = bi.Main.Version
		}
		out[p] = file
	}
	return out, version, nil
}

// rebuild builds gostrap for want from the source this binary carries, with the Go release it
// was built with. failed lists the platforms that could not be built, each with its reason.
func (r *run) rebuild(ctx context.Context, archive []byte, version, sum string, want []dist.Platform, tmp string) (map[dist.Platform]string, []string, error) {
	goBin, how, err := r.buildToolchain(ctx)
	if err != nil {
		var failed []string
		for _, p := range want {
			failed = append(failed, "no gostrap for "+p.String()+": "+err.Error())
		}
		return nil, failed, nil
	}
	r.in.logf("rebuilding gostrap %s for %d platforms with %s", version, len(want), how)
	src := filepath.Join(tmp, "src")
	if err := dist.Extract(archive, src); err != nil {
		return nil, nil, &failure.DiskError{Op: "extract", Path: src, Err: err}
	}
	env := os.Environ()
	if gp := r.in.goEnv(ctx)["GOPROXY"]; gp != "" {
		env = append(env, "GOPROXY="+gp)
	}
	_, err = dist.Build(ctx, dist.Options{ModuleDir: src, Out: filepath.Join(tmp, "out"), Version: version, Platforms: want,
		GoBin: goBin, Env: env, WorkDir: filepath.Join(tmp, "work"), WantSum: sum, Log: logLines{r.in}})
	var be *dist.BuildError
	if err != nil && !errors.As(err, &be) {
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		var failed []string
		for _, p := range want {
			failed = append(failed, "no gostrap for "+p.String()+": "+firstLine(err.Error()))
		}
		return nil, failed, nil
	}
	// With a *BuildError the other platforms were built (dist then writes no SHA256SUMS: the
	// tree gets its own).
	broken := map[dist.Platform]error{}
	if be != nil {
		for _, f := range be.Failed {
			broken[f.Platform] = f.Err
		}
	}
	out := map[dist.Platform]string{}
	var failed []string
	for _, p := range want {
		if e, ok := broken[p]; ok {
			failed = append(failed, "no gostrap for "+p.String()+": the build failed: "+firstLine(e.Error()))
			continue
		}
		out[p] = filepath.Join(tmp, "out", filepath.FromSlash(p.Path()))
	}
	return out, failed, nil
}

// buildToolchain is the go command to rebuild gostrap with: the release this gostrap was built
// with (runtime.Version()), so that the bytes are dist's. Installed and verified through the
// sources when they have it; else the go command on PATH when it is that release.
func (r *run) buildToolchain(ctx context.Context) (goBin, how string, err error) {
	v := runtime.Version()
	if !mirror.IsRelease(v) {
		return "", "", fmt.Errorf("this gostrap was built with %s, not a Go release", v)
	}
	host := layout.Layout{Dir: r.in.opts.Dir, Platform: mirror.Host()}
	exe := filepath.Join(host.GOROOT(v), "bin", "go"+layout.ExeSuffix(mirror.Host()))
	if _, ok := host.Intact(v); !ok {
		o := r.in.opts
		o.Platform, o.Use = mirror.Host(), false
		in, err := New(o)
		if err != nil {
			return "", "", err
		}
		_, ierr := in.Install(ctx, mirror.Spec{Kind: mirror.Exact, Version: v})
		if ierr != nil {
			if ctx.Err() != nil {
				return "", "", context.Cause(ctx)
			}
			if pathGo, ok := goOnPath(ctx, v); ok {
				return pathGo, "the go command on PATH, which is " + v + " like this gostrap (no source had " + v + " to install and verify)", nil
			}
			return "", "", fmt.Errorf("gostrap is rebuilt with %s, the release it was built with, and neither the sources nor PATH have it: %v",
				v, firstLine(failure.Explain(ierr).Message))
		}
	}
	return exe, v + " installed and verified in " + host.GOROOT(v), nil
}

// goOnPath returns the go command on PATH when it reports release v.
func goOnPath(ctx context.Context, v string) (string, bool) {
	bin, err := exec.LookPath("go")
	if err != nil {
		return "", false
	}
	cmd := exec.CommandContext(ctx, bin, "env", "GOVERSION")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	return bin, err == nil && strings.TrimSpace(string(out)) == v
}

// logLines passes a build's lines to the installer's log.
type logLines struct{ in *Installer }

func (l logLines) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.in.logf("%s", line)
	}
	return len(p), nil
}
