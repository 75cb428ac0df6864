package main

import (
	"fmt"
	"io"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
)

func runCacheList(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	l, err := in.CacheList()
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, l)
		return nil
	}
	for _, e := range l.Downloads {
		printEntry(x.stdout, e)
	}
	if !x.o.quiet {
		fmt.Fprintf(x.stderr, "gostrap: %s in %s: %d downloads, indexes %s, checksum database %s\n",
			download.Bytes(l.TotalBytes), l.Dir, len(l.Downloads), download.Bytes(l.IndexBytes), download.Bytes(l.SumDBBytes))
	}
	return nil
}

// printEntry prints one download: release, platform, size, date, how it was verified (or
// "partial"), whether it is installed, and its file name.
func printEntry(w io.Writer, e gostrap.CacheEntry) {
	state := e.Verified
	if e.Partial {
		state = "partial"
	}
	installed := ""
	if e.Installed {
		installed = "installed"
	}
	fmt.Fprintf(w, "%-11s %-14s %10s  %s  %-18s %-9s  %s\n", orDash(e.Version), orDash(e.Platform), download.Bytes(e.Size),
		e.Time.Local().Format("2006-01-02"), orDash(state), installed, e.Name)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runCachePrune(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	res, err := in.CachePrune(gostrap.PruneOptions{Keep: x.o.keep, OlderThan: x.o.olderThan, Installed: x.o.all, DryRun: x.o.dryRun})
	printPruned(x, res)
	if err == nil && !x.o.json && !x.o.quiet && !x.o.all {
		n := 0
		for _, e := range res.Kept {
			if e.Installed {
				n++
			}
		}
		if n > 0 {
			fmt.Fprintf(x.stderr, "gostrap: kept %d download(s) of installed toolchains (--all removes them too)\n", n)
		}
	}
	return err
}

func runCacheClean(x *invocation) error {
	in, err := x.installer(false)
	if err != nil {
		return err
	}
	res, err := in.CacheClean(x.o.dryRun)
	printPruned(x, res)
	return err
}

func printPruned(x *invocation, res *gostrap.PruneResult) {
	if res == nil {
		return
	}
	if x.o.json {
		writeJSON(x.stdout, res)
		return
	}
	if x.o.quiet {
		return
	}
	verb := "removed"
	if res.DryRun {
		verb = "would remove"
	}
	for _, e := range res.Removed {
		what := e.Name
		if e.Version != "" {
			what = e.Version + " " + e.Platform
			if e.Partial {
				what += " (partial)"
			}
		}
		fmt.Fprintf(x.stdout, "gostrap: %s %s (%s)\n", verb, what, download.Bytes(e.Size))
	}
	for _, e := range res.Kept {
		if e.Partial {
			fmt.Fprintf(x.stderr, "gostrap: kept the partial download %s: recently written (an install may be running)\n", e.Name)
		}
	}
	if res.DryRun {
		fmt.Fprintf(x.stdout, "gostrap: would free %s\n", download.Bytes(res.FreedBytes))
	} else {
		fmt.Fprintf(x.stdout, "gostrap: freed %s\n", download.Bytes(res.FreedBytes))
	}
}
