package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
	"github.com/gostrap/gostrap/verify"
)

// treeFlags are the flags of bundle create and mirror sync.
type treeFlags struct {
	out       *string
	versions  list
	platforms list
	since     *string
}

func (t *treeFlags) register(fs *flag.FlagSet, since bool) {
	t.out = fs.String("out", "", "directory (or, with --archive, .tar file) to write")
	fs.Var(&t.versions, "version", "release to include: latest, 1.N, 1.N.M (repeatable; default latest)")
	fs.Var(&t.platforms, "platform", "OS/ARCH to include (repeatable; default this machine's, or --os/--arch)")
	if since {
		t.since = fs.String("since", "", "include every stable release from this line on (1.N)")
	}
}

func (t *treeFlags) options(in *gostrap.Installer, host mirror.Platform) (gostrap.TreeOptions, error) {
	o := gostrap.TreeOptions{Out: *t.out, Specs: t.versions}
	if o.Out == "" {
		return o, usagef("--out is required")
	}
	if t.since != nil {
		o.Since = *t.since
	}
	for _, p := range t.platforms {
		pl, err := mirror.ParsePlatform(p)
		if err != nil {
			return o, &usageError{err.Error()}
		}
		o.Platforms = append(o.Platforms, pl)
	}
	if len(o.Platforms) == 0 {
		o.Platforms = []mirror.Platform{host}
	}
	return o, nil
}

func platformOf(c *common) mirror.Platform {
	p := mirror.Host()
	if c.goos != "" {
		p.OS = c.goos
	}
	if c.goarch != "" {
		p.Arch = c.goarch
	}
	return p
}

func cmdBundle(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	if len(args) == 0 {
		return false, usagef("bundle needs a subcommand: create or verify")
	}
	switch args[0] {
	case "create":
		var tf treeFlags
		var tarOut, withArchives *bool
		c, pos, in, err := command("bundle create", args[1:], stderr, func(fs *flag.FlagSet) {
			tf.register(fs, false)
			tarOut = fs.Bool("archive", false, "write one .tar file instead of a directory")
			withArchives = fs.Bool("with-archives", false, "also hold the release archives (the full tree, test/ and api/ included)")
		})
		if err != nil {
			return c.json, err
		}
		if len(pos) > 0 {
			return c.json, usagef("bundle create takes no arguments (use --version)")
		}
		o, err := tf.options(in, platformOf(c))
		if err != nil {
			return c.json, err
		}
		o.Zips, o.Archives, o.Tar = true, *withArchives, *tarOut
		return c.json, runTree(ctx, c, in, o, stdout, "bundle")
	case "verify":
		c, pos, in, err := command("bundle verify", args[1:], stderr, nil)
		if err != nil {
			return c.json, err
		}
		if len(pos) != 1 {
			return c.json, usagef("bundle verify takes one PATH")
		}
		return c.json, verifyBundle(ctx, c, in, pos[0], stdout)
	}
	return false, usagef("unknown bundle subcommand %q: want create or verify", args[0])
}

func runTree(ctx context.Context, c *common, in *gostrap.Installer, o gostrap.TreeOptions, stdout io.Writer, what string) error {
	rep, err := in.SyncTree(ctx, o)
	if c.json {
		writeJSON(stdout, rep)
	} else if rep != nil && !c.quiet {
		for _, e := range rep.Entries {
			held := e.Zip
			if e.Archive != "" {
				held += " " + e.Archive
			}
			fmt.Fprintf(stdout, "  %s %s  %s  %s\n", e.Version, e.Platform, e.H1, held)
		}
		fmt.Fprintf(stdout, "gostrap: %s %s: %d releases, %d files fetched (%s), %d reused\n", what, o.Out,
			len(rep.Entries), rep.Added, download.Bytes(rep.Fetched), rep.Reused)
	}
	return err
}

func verifyBundle(ctx context.Context, c *common, in *gostrap.Installer, path string, stdout io.Writer) error {
	t, err := offline.Open(path)
	if err != nil {
		return err
	}
	defer t.Close()
	db, err := in.SumDB(ctx)
	if err != nil {
		return err
	}
	v := t.Verify(ctx, db.DB())
	if c.json {
		writeJSON(stdout, v)
	} else {
		for _, f := range v.Files {
			if f.Status != offline.Good {
				fmt.Fprintf(stdout, "%-9s %s: %s\n", f.Status, f.Path, f.Detail)
			}
		}
		for _, e := range v.Entries {
			if e.Status == offline.Good {
				fmt.Fprintf(stdout, "good      %s %s: proven by %s (%s)\n", e.Version, e.Platform, v.SumDB, e.H1)
			} else {
				fmt.Fprintf(stdout, "%-9s %s %s: %s\n", e.Status, e.Version, e.Platform, firstLine(e.Detail))
			}
		}
		fmt.Fprintf(stdout, "files: %d good, %d missing, %d tampered, %d unlisted\n",
			v.Counts[offline.Good], v.Counts[offline.Missing], v.Counts[offline.Tampered], v.Counts[offline.Unlisted])
	}
	if !v.OK() {
		return &verify.TamperedError{Path: path, Reason: "it does not verify (see the list above)"}
	}
	return nil
}

func cmdMirror(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	if len(args) == 0 {
		return false, usagef("mirror needs a subcommand: sync or serve")
	}
	switch args[0] {
	case "sync":
		var tf treeFlags
		var noZips *bool
		c, pos, in, err := command("mirror sync", args[1:], stderr, func(fs *flag.FlagSet) {
			tf.register(fs, true)
			noZips = fs.Bool("no-zips", false, "leave out the golang.org/toolchain proxy layout")
		})
		if err != nil {
			return c.json, err
		}
		if len(pos) > 0 {
			return c.json, usagef("mirror sync takes no arguments (use --version or --since)")
		}
		o, err := tf.options(in, platformOf(c))
		if err != nil {
			return c.json, err
		}
		o.Archives, o.Zips = true, !*noZips
		return c.json, runTree(ctx, c, in, o, stdout, "mirror")
	case "serve":
		var addr *string
		c, pos, _, err := command("mirror serve", args[1:], stderr, func(fs *flag.FlagSet) {
			addr = fs.String("addr", "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for the LAN)")
		})
		if err != nil {
			return c.json, err
		}
		if len(pos) != 1 {
			return c.json, usagef("mirror serve takes one DIR")
		}
		return c.json, serveTree(ctx, pos[0], *addr, stdout)
	}
	return false, usagef("unknown mirror subcommand %q: want sync or serve", args[0])
}

func serveTree(ctx context.Context, dir, addr string, stdout io.Writer) error {
	if _, err := offline.Open(dir); err != nil {
		return err
	}
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
