package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// treeOptions turns the flags bundle create and mirror sync share (treeFlags) into the
// library's options. No --platform is the library's default: this machine's.
func treeOptions(o *opts) (gostrap.TreeOptions, error) {
	t := gostrap.TreeOptions{Out: o.out, Specs: o.versions, Since: o.since, Gostrap: !o.noGostrap, GostrapDist: o.gostrapDist}
	if t.Out == "" {
		return t, usagef("--out is required: the directory (or with --archive, the .tar file) to write")
	}
	for _, p := range o.platforms {
		pl, err := mirror.ParsePlatform(p)
		if err != nil {
			return t, err
		}
		t.Platforms = append(t.Platforms, pl)
	}
	return t, nil
}

func runBundleCreate(x *invocation) error {
	t, err := treeOptions(x.o)
	if err != nil {
		return err
	}
	t.Zips, t.Archives, t.Tar = true, x.o.withArchive, x.o.archive
	return runTree(x, t, "bundle")
}

func runMirrorSync(x *invocation) error {
	t, err := treeOptions(x.o)
	if err != nil {
		return err
	}
	t.Archives, t.Zips = true, !x.o.noZips
	return runTree(x, t, "mirror")
}

func runTree(x *invocation, o gostrap.TreeOptions, what string) error {
	in, err := x.installer(true)
	if err != nil {
		return err
	}
	rep, err := in.SyncTree(x.ctx, o)
	if x.o.json {
		writeJSON(x.stdout, rep)
	} else if rep != nil && !x.o.quiet {
		for _, e := range rep.Entries {
			var held []string
			for _, p := range []string{e.Zip, e.Archive} {
				if p != "" {
					held = append(held, p)
				}
			}
			proof := e.H1
			if proof == "" {
				proof = "(no proof)"
			}
			fmt.Fprintf(x.stdout, "  %s %s  %s  %s\n", e.Version, e.Platform, proof, strings.Join(held, " "))
		}
		fmt.Fprintf(x.stdout, "gostrap: %s %s: %d releases added; %d files fetched (%s), %d files already there\n", what, o.Out,
			len(rep.Entries), rep.Added, download.Bytes(rep.Fetched), rep.Reused)
		for _, m := range rep.Missing {
			fmt.Fprintf(x.stdout, "  missing: %s\n", m)
		}
	}
	return err
}

func runBundleVerify(x *invocation) error {
	path := x.args[0]
	in, err := x.installer(true)
	if err != nil {
		return err
	}
	t, err := offline.Open(path)
	if err != nil {
		return err
	}
	defer t.Close()
	db, err := in.SumDB(x.ctx)
	if err != nil {
		return err
	}
	v := t.Verify(x.ctx, db.DB())
	if x.o.json {
		writeJSON(x.stdout, v)
	} else {
		for _, f := range v.Files {
			if f.Status != offline.Good {
				fmt.Fprintf(x.stdout, "%-9s %s: %s\n", f.Status, f.Path, f.Detail)
			}
		}
		for _, e := range v.Entries {
			if e.Status == offline.Good {
				fmt.Fprintf(x.stdout, "good      %s %s: proven by %s (%s)\n", e.Version, e.Platform, v.SumDB, e.H1)
			} else {
				fmt.Fprintf(x.stdout, "%-9s %s %s: %s\n", e.Status, e.Version, e.Platform, firstLine(e.Detail))
			}
		}
		fmt.Fprintf(x.stdout, "files: %d good, %d missing, %d tampered, %d unlisted\n",
			v.Counts[offline.Good], v.Counts[offline.Missing], v.Counts[offline.Tampered], v.Counts[offline.Unlisted])
	}
	if !v.OK() {
		return &tamperedBundle{&verify.TamperedError{Path: path, Reason: "it does not verify (see the list above)"}}
	}
	return nil
}

// tamperedBundle is bundle verify's verdict on a bundle that was changed: the remedy is a new
// bundle, not another verification.
type tamperedBundle struct{ err *verify.TamperedError }

func (e *tamperedBundle) Error() string        { return e.err.Error() }
func (e *tamperedBundle) Unwrap() error        { return e.err }
func (e *tamperedBundle) Class() failure.Class { return failure.ChecksumMismatch }
func (e *tamperedBundle) Hint() string {
	return "do not install from it: make the bundle again on a connected machine (gostrap bundle create --out PATH ...) and copy it over"
}

func runMirrorServe(x *invocation) error {
	return serveTree(x.ctx, x.args[0], x.o.addr, x.stdout)
}

func serveTree(ctx context.Context, dir, addr string, stdout io.Writer) error {
	// The handler serves a directory's files: a .tar bundle, which offline.Open reads too,
	// would answer every request 404.
	if err := checkDir(dir); err != nil {
		return badValue("DIR", dir, fmt.Errorf("%v: serve a .tar bundle unpacked (tar -xf)", err))
	}
	t, err := offline.Open(dir)
	if err != nil {
		return err
	}
	t.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String() + "/"
	fmt.Fprintf(stdout, "gostrap: serving %s at %s\n  clients: gostrap install --official %s\n"+
		"       or: GOPROXY=%s go ... (toolchains: GOTOOLCHAIN=go1.N.M)\n", dir, base, base, base)
	srv := &http.Server{Handler: offline.Handler(dir), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
