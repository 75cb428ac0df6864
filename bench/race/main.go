// Command race measures what a silent source costs an install when another answers: installs
// of one release from a flat mirror, alternated (A B B A) between a run whose preferred source,
// the official site, answers and one whose official site is blackholed (a loopback listener that
// never accepts, as behind a firewall that drops packets). It prints the medians and the median
// extra cost as a markdown table, for docs/performance.md.
//
//	go run ./bench/race [-rounds 8]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

var rounds = flag.Int("rounds", 8, "rounds; each runs both contenders twice")

type cleaner struct{ fns []func() }

func (c *cleaner) Cleanup(f func()) { c.fns = append(c.fns, f) }

func main() {
	flag.Parse()
	os.Setenv(download.TestNetworkEnv, "loopback")
	f, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.22.3"}, Platforms: []mirror.Platform{mirrortest.Host}, Pad: 1 << 20})
	if err != nil {
		panic(err)
	}
	var c cleaner
	defer func() {
		for _, fn := range c.fns {
			fn()
		}
	}()
	s := mirrortest.Start(&c, f)
	hole := "http://" + mirrortest.Blackhole(&c) + "/dl/"
	work, err := os.MkdirTemp("", "gostrap-race-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(work)
	n := 0
	install := func(official string) time.Duration {
		n++
		o := gostrap.Options{Dir: filepath.Join(work, fmt.Sprint(n), "go"), CacheDir: filepath.Join(work, fmt.Sprint(n), "cache"),
			Official: []string{official}, Mirrors: []string{s.MirrorURL()}, GOPROXY: s.ProxyURL(), GOSUMDB: s.GOSUMDB()}
		in, err := gostrap.New(o)
		if err != nil {
			panic(err)
		}
		start := time.Now()
		rep, err := in.Install(context.Background(), mirror.Spec{Kind: mirror.Exact, Version: "go1.22.3"})
		if err != nil || rep.Source.Kind != "mirror" && official == hole {
			panic(fmt.Sprint(err, rep.Source))
		}
		return time.Since(start)
	}
	var healthy, blackholed, extra []float64
	for r := range *rounds {
		pair := []string{s.OfficialURL(), hole, hole, s.OfficialURL()}
		if r%2 == 1 {
			pair = []string{hole, s.OfficialURL(), s.OfficialURL(), hole}
		}
		var d [4]time.Duration
		for i, u := range pair {
			d[i] = install(u)
		}
		for _, i := range []int{0, 3} {
			h, b := d[i], d[map[int]int{0: 1, 3: 2}[i]]
			if pair[i] == hole {
				h, b = b, h
			}
			healthy = append(healthy, h.Seconds()*1000)
			blackholed = append(blackholed, b.Seconds()*1000)
			extra = append(extra, (b-h).Seconds()*1000)
		}
	}
	fmt.Printf("| install of one release from a mirror (%d runs each) | median | range |\n| --- | --- | --- |\n", len(healthy))
	for _, row := range []struct {
		name string
		xs   []float64
	}{{"official site answers", healthy}, {"official site blackholed (first in the order)", blackholed}, {"extra cost of the blackholed source", extra}} {
		fmt.Printf("| %s | %.0f ms | %.0f-%.0f ms |\n", row.name, median(row.xs), slices.Min(row.xs), slices.Max(row.xs))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
