// Command perf times gostrap against the baselines an installer must beat, in one run,
// alternating the contenders round by round, and writes medians, ratios and peak RSS to
// docs/performance.md. These machines are noisy: only medians of several rounds, and ratios
// taken within the same run, mean anything.
//
//	go run ./bench/perf [-rounds 5] [-proxy] [-out docs/performance.md]
//
// The release archive is built from the local Go installation (GOROOT) as distpack lays it out
// (go/..., gzip), labelled with a version the checksum database does not know, so that no
// machine-specific difference in that tree can be mistaken for tampering. Contenders:
//
//	gostrap cold      gostrap install from a loopback `mirror serve`, empty cache
//	pipeline          curl, then sha256sum -c, then tar xzf (the shell way)
//	write floor       tar xf of the same tree uncompressed: writing the files, nothing else
//	gostrap warm      gostrap install with the archive already in its cache
//	tar xzf           tar xzf of the same archive from disk
//	throttled         gostrap install, and a single curl, from a server that caps each connection
//	proxy (-proxy)    gostrap install through the real GOPROXY, and GOTOOLCHAIN=go1.N.M go version
//	tmpfs limit       the slower of gzip -dc of the archive and tar xf of its plain tar, all in
//	                  tmpfs: what this machine needs at least to inflate, and to write the tree
//	module zip        gostrap install through a loopback module proxy: `mirror serve` of a
//	                  `mirror sync` tree holding the same tree as a toolchain module zip
//
// -set memory runs only the comparisons of the memory and tmpfs goals (issue 12).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/offline"
)

const version = "go1.26.99" // a version no checksum database knows (see the package comment)

var (
	rounds    = flag.Int("rounds", 5, "rounds; each runs every contender once, in turn")
	withProxy = flag.Bool("proxy", false, "also time installs through the real GOPROXY (needs the network)")
	proxyVer  = flag.String("proxy-version", "go1.25.5", "release for the proxy comparison")
	out       = flag.String("out", "docs/performance.md", "report to write")
	work      = flag.String("work", "bench/_out", "scratch directory (kept between runs for the prepared archive)")
	throttle  = flag.Int64("throttle", 8<<20, "bytes per second per connection for the throttled server")
	memDir    = flag.String("memdir", "/dev/shm", "a tmpfs for a second capped-server comparison with the disk out of the way (\"\" to skip)")
	serveOnly = flag.Bool("serve", false, "prepare, start the servers, print their URLs and wait (for looking into one contender by hand)")
	binFlag   = flag.String("bin", "", "gostrap binary to time (default: built from this tree), e.g. one built from main for a before-and-after")
	set       = flag.String("set", "all", "comparisons to run: all, or memory (the memory and tmpfs-limit goals alone)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

type sample struct {
	secs  float64
	cpu   float64 // user + system seconds
	rssKB int64
	parts []float64 // a limit's component times, when it has several
}

type contender struct {
	name    string
	prepare func() error // untimed, before each run
	cmd     func() *exec.Cmd
	// limit, when set, replaces cmd: several commands timed one after the other, of which the
	// slowest is the sample (a machine's limit is its slowest stage).
	limit   []func() *exec.Cmd
	parts   []string // names of limit's commands
	samples []sample
}

func run() error {
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	w, _ := filepath.Abs(*work)
	if err := os.MkdirAll(w, 0o755); err != nil {
		return err
	}
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	p := mirror.Host()
	site := filepath.Join(w, "site")
	archive := filepath.Join(site, p.ArchiveName(version))
	plainTar := filepath.Join(w, "tree.tar")
	if err := prepare(goroot, site, archive, plainTar); err != nil {
		return err
	}
	st, _ := os.Stat(archive)
	sum, err := fileSHA(archive)
	if err != nil {
		return err
	}
	bin := filepath.Join(w, "gostrap")
	if *binFlag != "" {
		bin, _ = filepath.Abs(*binFlag)
	} else if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gostrap").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	plainURL, stopPlain, err := serve(offline.Handler(site), 0)
	if err != nil {
		return err
	}
	defer stopPlain()
	slowURL, stopSlow, err := serve(offline.Handler(site), *throttle)
	if err != nil {
		return err
	}
	defer stopSlow()

	ztree, vkey, err := prepareZipTree(goroot, w)
	if err != nil {
		return fmt.Errorf("module proxy tree: %v", err)
	}
	zipURL, stopZip, err := serve(offline.Handler(ztree), 0)
	if err != nil {
		return err
	}
	defer stopZip()

	if *serveOnly {
		fmt.Printf("plain %s\nthrottled %s\nproxy %s\nGOSUMDB=%s\nversion %s\n", plainURL, slowURL, zipURL, vkey, version)
		select {}
	}
	dest := filepath.Join(w, "dest")
	cache := filepath.Join(w, "cache")
	warmCache := filepath.Join(w, "warm-cache")
	// Trees are moved aside, not deleted, between contenders: on a disk mounted with online
	// discard, deleting 225 MB slows the next few seconds of I/O, which would land on whichever
	// contender comes next. The trash is emptied between rounds, and the disk left to settle.
	trash := filepath.Join(w, "trash")
	trashed := 0
	mem := ""
	if *memDir != "" {
		if d, err := os.MkdirTemp(*memDir, "gostrap-perf-"); err == nil {
			mem = d
			defer os.RemoveAll(mem)
		}
	}
	clean := func(dirs ...string) func() error {
		return func() error {
			os.MkdirAll(trash, 0o755)
			for _, d := range dirs {
				if mem != "" && strings.HasPrefix(d, mem) {
					// Memory: deleting costs the disk nothing.
					if err := os.RemoveAll(d); err != nil {
						return err
					}
					if filepath.Base(d) == "dest" {
						os.MkdirAll(d, 0o755)
					}
					continue
				}
				if _, err := os.Stat(d); err == nil {
					trashed++
					if err := os.Rename(d, filepath.Join(trash, fmt.Sprint(trashed))); err != nil {
						return err
					}
				}
			}
			return os.MkdirAll(dest, 0o755)
		}
	}
	settle := func() {
		exec.Command("chmod", "-R", "u+w", trash).Run()
		os.RemoveAll(trash)
		exec.Command("sync").Run()
		time.Sleep(3 * time.Second)
	}
	settle()
	env := append(os.Environ(), "GOPROXY=off", "GOSTRAP_MIRRORS=off", "GOSTRAP_QUIET=1")
	gostrapTo := func(base, destDir, cacheDir string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(bin, "install", version, "--official", base, "--sources", "official",
				"--dir", destDir, "--cache-dir", cacheDir, "--quiet")
			c.Env = env
			return c
		}
	}
	gostrap := func(base, cacheDir string) func() *exec.Cmd { return gostrapTo(base, dest, cacheDir) }
	sh := func(script string) func() *exec.Cmd {
		return func() *exec.Cmd { return exec.Command("sh", "-c", script) }
	}
	url := plainURL + filepath.Base(archive)
	dl := filepath.Join(w, "dl.tar.gz")

	coldGostrap := func() *contender {
		return &contender{name: "gostrap cold (loopback)", prepare: clean(dest, cache), cmd: gostrap(plainURL, cache)}
	}
	comps := []*comparison{
		{what: "install from a loopback mirror / write floor (tar xf of the uncompressed tree)", goal: 1.3,
			a: coldGostrap(),
			b: &contender{name: "write floor: tar xf (uncompressed)", prepare: clean(dest), cmd: sh(fmt.Sprintf("tar xf %s -C %s", plainTar, dest))}},
		{what: "install from a loopback mirror / shell pipeline (curl, sha256sum -c, tar xzf)", goal: 0.9,
			a: coldGostrap(),
			b: &contender{name: "pipeline: curl + sha256sum + tar xzf", prepare: clean(dest, dl), cmd: sh(fmt.Sprintf(
				"curl -sSf -o %s %s && echo '%s  %s' | sha256sum -c --quiet - && tar xzf %s -C %s", dl, url, sum, dl, dl, dest))}},
		{what: "reinstall from a warm cache / tar xzf of the same archive", goal: 1.1,
			a: &contender{name: "gostrap warm cache", prepare: func() error {
				if err := clean(dest)(); err != nil {
					return err
				}
				if _, err := os.Stat(filepath.Join(warmCache, "dl", filepath.Base(archive)+".json")); err != nil {
					// Fill the cache once, untimed.
					if out, err := gostrap(plainURL, warmCache)().CombinedOutput(); err != nil {
						return fmt.Errorf("filling the cache: %v\n%s", err, out)
					}
					return clean(dest)()
				}
				return nil
			}, cmd: gostrap(plainURL, warmCache)},
			b: &contender{name: "tar xzf (archive on disk)", prepare: clean(dest), cmd: sh(fmt.Sprintf("tar xzf %s -C %s", archive, dest))}},
		{what: fmt.Sprintf("whole install / a single curl download alone, server capped at %d MiB/s per connection", *throttle>>20), goal: 1.0 / 3,
			a: &contender{name: "gostrap cold, capped server", prepare: clean(dest, cache), cmd: gostrap(slowURL, cache)},
			b: &contender{name: "single curl download, capped server", prepare: clean(dest, dl), cmd: sh(fmt.Sprintf("curl -sSf -o %s %s", dl, slowURL+filepath.Base(archive)))}},
	}
	if mem != "" {
		// The same race with the disk out of the way: where the disk is slower than the capped
		// network (as here), the comparison above measures the disk.
		memDest, memCache, memDl := filepath.Join(mem, "dest"), filepath.Join(mem, "cache"), filepath.Join(mem, "dl.tar.gz")
		comps = append(comps, &comparison{what: fmt.Sprintf("the same, tree, cache and download in memory (tmpfs), capped at %d MiB/s", *throttle>>20), goal: 1.0 / 3,
			a: &contender{name: "gostrap cold, capped server, tmpfs", prepare: clean(memDest, memCache), cmd: gostrapTo(slowURL, memDest, memCache)},
			b: &contender{name: "single curl download, capped server, tmpfs", prepare: clean(memDl), cmd: sh(fmt.Sprintf("curl -sSf -o %s %s", memDl, slowURL+filepath.Base(archive)))}})
	}
	if *set == "memory" {
		comps = nil
	}
	// The memory and tmpfs goals (issue 12): cold installs from an archive and from a module
	// zip, on disk and in tmpfs, for peak RSS; and the tmpfs install against this machine's
	// limit, the slower of inflating the archive and writing the plain tree.
	viaZipProxy := func(name, destDir, cacheDir string) *contender {
		return &contender{name: name, prepare: clean(destDir, cacheDir), cmd: func() *exec.Cmd {
			c := exec.Command(bin, "install", version, "--sources", "proxy", "--dir", destDir, "--cache-dir", cacheDir, "--quiet")
			c.Env = append(os.Environ(), "GOSTRAP_QUIET=1", "GOPROXY="+zipURL, "GOSUMDB="+vkey, "GOSTRAP_MIRRORS=off")
			return c
		}}
	}
	if mem != "" {
		memDest, memCache := filepath.Join(mem, "dest"), filepath.Join(mem, "cache")
		memArchive, memTar, memX := filepath.Join(mem, "archive.tar.gz"), filepath.Join(mem, "tree.tar"), filepath.Join(mem, "x")
		for _, cp := range [][2]string{{archive, memArchive}, {plainTar, memTar}} {
			if err := copyFile(cp[0], cp[1]); err != nil {
				return err
			}
		}
		limit := &contender{name: "tmpfs limit: slower of gzip -dc, tar xf (plain tar)", prepare: clean(memX),
			parts: []string{"gzip -dc archive > /dev/null", "tar xf plain.tar"},
			limit: []func() *exec.Cmd{sh(fmt.Sprintf("gzip -dc %s > /dev/null", memArchive)),
				sh(fmt.Sprintf("mkdir -p %s && tar xf %s -C %s", memX, memTar, memX))}}
		comps = append(comps,
			&comparison{what: "cold install from an archive, all in tmpfs / tmpfs limit (slower of gzip -dc and tar xf)", goal: 1.15, rss: true,
				a: &contender{name: "gostrap cold (loopback), tmpfs", prepare: clean(memDest, memCache), cmd: gostrapTo(plainURL, memDest, memCache)},
				b: limit},
			&comparison{what: "cold install from a module zip (loopback proxy), all in tmpfs / tmpfs limit", rss: true,
				a: viaZipProxy("gostrap cold via module proxy (loopback), tmpfs", memDest, memCache), b: limit})
	}
	floor := &contender{name: "write floor: tar xf (uncompressed), disk", prepare: clean(dest), cmd: sh(fmt.Sprintf("tar xf %s -C %s", plainTar, dest))}
	comps = append(comps,
		&comparison{what: "cold install from an archive, on disk / write floor (tar xf)", rss: true,
			a: &contender{name: "gostrap cold (loopback), disk", prepare: clean(dest, cache), cmd: gostrap(plainURL, cache)},
			b: floor},
		&comparison{what: "cold install from a module zip (loopback proxy), on disk / write floor (tar xf)", rss: true,
			a: viaZipProxy("gostrap cold via module proxy (loopback), disk", dest, cache),
			b: floor})
	if *withProxy {
		goCmd := func(dir, gp string) *contender {
			name := "GOTOOLCHAIN=" + *proxyVer + " go version, fresh module cache"
			if mem != "" && strings.HasPrefix(gp, mem) {
				name += ", tmpfs"
			}
			return &contender{name: name, prepare: clean(dir, gp), cmd: func() *exec.Cmd {
				c := exec.Command("go", "version")
				c.Dir = dir
				c.Env = append(os.Environ(), "GOTOOLCHAIN="+*proxyVer, "GOPATH="+gp, "GOMODCACHE="+filepath.Join(gp, "mod"), "GOFLAGS=-modcacherw")
				return c
			}}
		}
		viaProxy := func(name, destDir, cacheDir string) *contender {
			return &contender{name: name, prepare: clean(destDir, cacheDir), cmd: func() *exec.Cmd {
				c := exec.Command(bin, "install", *proxyVer, "--sources", "proxy", "--dir", destDir, "--cache-dir", cacheDir, "--quiet")
				c.Env = append(os.Environ(), "GOSTRAP_QUIET=1")
				return c
			}}
		}
		comps = append(comps, &comparison{what: "install through GOPROXY / the go command's own toolchain download (" + *proxyVer + ")", goal: 0.5,
			a: viaProxy("gostrap cold through GOPROXY", dest, cache), b: goCmd(dest, filepath.Join(w, "gopath"))})
		if mem != "" {
			memDest, memCache, memGP := filepath.Join(mem, "dest"), filepath.Join(mem, "cache"), filepath.Join(mem, "gopath")
			comps = append(comps, &comparison{what: "the same, both in memory (tmpfs)", goal: 0.5,
				a: viaProxy("gostrap cold through GOPROXY, tmpfs", memDest, memCache), b: goCmd(memDest, memGP)})
		}
	}

	// Each comparison runs as A B B A (B A A B the next round): every ratio comes from two
	// runs side by side. This disk's speed changes by several times from one minute to the
	// next, so ratios of runs far apart would measure the disk, not the contenders.
	one := func(c *contender, r int) (sample, error) {
		if err := c.prepare(); err != nil {
			return sample{}, fmt.Errorf("%s: %v", c.name, err)
		}
		var s sample
		if c.limit == nil {
			var err error
			if s, err = timeCmd(c.cmd()); err != nil {
				return sample{}, fmt.Errorf("%s: %v", c.name, err)
			}
		}
		for _, cmd := range c.limit {
			p, err := timeCmd(cmd())
			if err != nil {
				return sample{}, fmt.Errorf("%s: %v", c.name, err)
			}
			s.parts = append(s.parts, p.secs)
			if p.secs > s.secs {
				s.secs, s.cpu = p.secs, p.cpu
			}
			s.rssKB = max(s.rssKB, p.rssKB)
		}
		c.samples = append(c.samples, s)
		fmt.Fprintf(os.Stderr, "round %d  %-50s %6.2fs  %6.1f MiB %v\n", r+1, c.name, s.secs, float64(s.rssKB)/1024, s.parts)
		return s, nil
	}
	for r := 0; r < *rounds; r++ {
		for _, cp := range comps {
			first, second := cp.a, cp.b
			if r%2 == 1 {
				first, second = cp.b, cp.a
			}
			var got [4]sample
			for i, c := range []*contender{first, second, second, first} {
				s, err := one(c, r)
				if err != nil {
					return err
				}
				got[i] = s
			}
			// got[0],got[1] and got[3],got[2] are (first, second) pairs.
			for _, pr := range [][2]sample{{got[0], got[1]}, {got[3], got[2]}} {
				a, b := pr[0], pr[1]
				if first != cp.a {
					a, b = b, a
				}
				cp.ratios = append(cp.ratios, a.secs/b.secs)
			}
		}
		settle()
	}
	clean(dest, filepath.Join(w, "gopath"))()
	settle()
	text := append(report(comps, st.Size(), countFiles(plainTar)), otherSections(*out)...)
	return os.WriteFile(*out, text, 0o644)
}

// otherSections is every "## " section of the old report that this program does not write:
// what other benchmarks wrote (bench/dnsdelay, bench/race) and the hand-written History, each
// kept when this one is rewritten.
func otherSections(path string) []byte {
	old, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := bytes.Index(old, []byte("\n## "))
	if i < 0 {
		return nil
	}
	var kept []byte
	for _, sec := range bytes.Split(old[i+1:], []byte("\n## ")) {
		if !bytes.HasPrefix(sec, []byte("## ")) {
			sec = append([]byte("## "), sec...)
		}
		if bytes.HasPrefix(sec, []byte(memoryHeading)) {
			continue
		}
		kept = append(append(kept, '\n'), bytes.TrimRight(sec, "\n")...)
		kept = append(kept, '\n')
	}
	return kept
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// comparison is one goal: a (gostrap) against b (a baseline), as a ratio of times.
type comparison struct {
	what   string
	a, b   *contender
	goal   float64 // 0: no goal on the time, the comparison is there for a's peak RSS
	rss    bool    // a's peak RSS is held to the memory goal (issue 12)
	ratios []float64
}

// rssGoalMiB is the memory goal of issue 12: peak RSS of a cold install, on disk and in tmpfs.
const rssGoalMiB = 48

// timeCmd runs c under /usr/bin/time for its peak RSS: the rusage of a child of this process
// would count this process's own memory, which the child shares until it execs.
func timeCmd(c *exec.Cmd) (sample, error) {
	rssFile, err := os.CreateTemp("", "perf-rss-")
	if err != nil {
		return sample{}, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	args := append([]string{"-f", "%M %U %S", "-o", rssFile.Name(), c.Path}, c.Args[1:]...)
	tc := exec.Command("/usr/bin/time", args...)
	tc.Env, tc.Dir = c.Env, c.Dir
	var buf bytes.Buffer
	tc.Stdout, tc.Stderr = &buf, &buf
	start := time.Now()
	err = tc.Run()
	d := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%v\n%s", err, buf.Bytes())
	}
	var rss int64
	var user, sys float64
	data, _ := os.ReadFile(rssFile.Name())
	fmt.Sscan(strings.TrimSpace(string(data)), &rss, &user, &sys)
	return sample{secs: d.Seconds(), cpu: user + sys, rssKB: rss}, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// secs is the time of each run.
func (c *contender) secs() []float64 {
	var xs []float64
	for _, s := range c.samples {
		xs = append(xs, s.secs)
	}
	return xs
}

func (c *contender) rssMiB() []float64 {
	var xs []float64
	for _, s := range c.samples {
		xs = append(xs, float64(s.rssKB)/1024)
	}
	return xs
}

func (c *contender) peakMiB() float64 {
	var m int64
	for _, s := range c.samples {
		m = max(m, s.rssKB)
	}
	return float64(m) / 1024
}

// memoryHeading starts the section of the memory and tmpfs goals; -set memory rewrites only it.
const memoryHeading = "## Memory, and the tmpfs limit"

func report(comps []*comparison, size int64, files int) []byte {
	var main, mem []*comparison
	for _, cp := range comps {
		if cp.rss {
			mem = append(mem, cp)
		} else {
			main = append(main, cp)
		}
	}
	var b bytes.Buffer
	if len(main) == 0 {
		// -set memory: keep what the last full run wrote before the section.
		old, _ := os.ReadFile(*out)
		head, _, _ := strings.Cut(string(old), "\n## ")
		b.WriteString(strings.TrimRight(head, "\n") + "\n\n")
	} else {
		fmt.Fprintf(&b, "# Performance\n\nGenerated by `bench/perf.sh` (`go run ./bench/perf`) on %s: %d rounds; in each, every comparison\n"+
			"runs A B B A (then B A A B), so each ratio comes from two runs side by side, and the ratio reported is the\n"+
			"median of those. Archive: the local Go tree packed as a release archive (%s, %d files), served on loopback\n"+
			"by `gostrap mirror serve`. %d cores. This machine's disk changes speed by several times from minute to minute\n"+
			"(the same `tar xf` took 2.5 s and 13 s within ten minutes), so single timings mean little; ratios of\n"+
			"neighbouring runs hold.\n\n", today(), len(main[0].ratios)/2, bytesHuman(size), files, runtime.NumCPU())
		b.WriteString(goalTable(main))
		peak := 0.0
		for _, cp := range comps {
			peak = max(peak, cp.a.peakMiB())
		}
		fmt.Fprintf(&b, "| peak RSS of any gostrap run | %.1f MiB | | under %d MiB | %s |\n", peak, rssGoalMiB, yes(peak < rssGoalMiB))
		b.WriteString("\n" + contenderTable(main) + "\n")
	}
	if len(mem) == 0 {
		return b.Bytes()
	}
	fmt.Fprintf(&b, "%s\n\nGenerated by `go run ./bench/perf -set memory` (or a full run) on %s: %d rounds, A B B A as above. "+
		"Issue 12's goals: peak RSS (`/usr/bin/time -f %%M`: the Go runtime, stacks and the binary's pages; not the\n"+
		"page cache) under %d MiB for every cold install, from an archive and from a module zip, on disk and with\n"+
		"tree, cache and download in tmpfs; and the cold install in tmpfs within 1.15x of this machine's limit, the\n"+
		"slower of `gzip -dc` of the archive and `tar xf` of its plain tar (both in tmpfs). The module zip is the same\n"+
		"tree as a toolchain module zip in a `mirror sync` tree, served on loopback as GOPROXY. 2 cores shared with\n"+
		"other runs: a run's time can double when a neighbour's test suite starts. gostrap spreads its work over both\n"+
		"cores and `gzip -dc` needs one, so when a neighbour takes a core gostrap loses more: the ratio rises with\n"+
		"the machine's load. The CPU column (user+sys, the limit's for its slower command) is the cost when no\n"+
		"core is to spare.\n\n",
		memoryHeading, today(), len(mem[0].ratios)/2, rssGoalMiB)
	fmt.Fprintf(&b, "| peak RSS, cold install | median | max | target | met |\n| --- | --- | --- | --- | --- |\n")
	for _, cp := range mem {
		rss := cp.a.rssMiB()
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB | under %d MiB | %s |\n", cp.a.name, median(rss), slices.Max(rss), rssGoalMiB, yes(slices.Max(rss) < rssGoalMiB))
	}
	b.WriteString("\n" + goalTable(mem) + "\n" + contenderTable(mem))
	for _, cp := range mem {
		if c := cp.b; c.parts != nil {
			fmt.Fprintf(&b, "\nThe limit's components (tmpfs), median of %d runs:", len(c.samples))
			for i, name := range c.parts {
				var xs []float64
				for _, s := range c.samples {
					xs = append(xs, s.parts[i])
				}
				fmt.Fprintf(&b, " `%s` %.2f s (%.2f-%.2f);", name, median(xs), slices.Min(xs), slices.Max(xs))
			}
			b.Truncate(b.Len() - 1)
			b.WriteString(".\n")
			break
		}
	}
	return b.Bytes()
}

func today() string { return time.Now().UTC().Format("2006-01-02") }

// goalTable is one row per comparison: the median of its ratios against its goal.
func goalTable(comps []*comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| goal | median ratio | range of ratios | target | met |\n| --- | --- | --- | --- | --- |\n")
	for _, cp := range comps {
		r := median(cp.ratios)
		target, met := fmt.Sprintf("at most %.2fx", cp.goal), yes(r <= cp.goal)
		switch {
		case cp.goal == 0:
			target, met = "(for RSS)", ""
		case cp.goal < 1 && strings.Contains(cp.what, "capped"):
			target = fmt.Sprintf("at most 1/3 (%.0fx faster)", 1/cp.goal)
		}
		fmt.Fprintf(&b, "| %s | %.2fx | %.2f-%.2f | %s | %s |\n", cp.what, r, slices.Min(cp.ratios), slices.Max(cp.ratios), target, met)
	}
	return b.String()
}

// contenderTable is one row per contender: its times and peak RSS.
func contenderTable(comps []*comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| contender | median | min | max | median CPU (user+sys) | peak RSS |\n| --- | --- | --- | --- | --- | --- |\n")
	seen := map[*contender]bool{}
	for _, cp := range comps {
		for _, c := range []*contender{cp.a, cp.b} {
			if seen[c] {
				continue
			}
			seen[c] = true
			xs := c.secs()
			var cpu []float64
			for _, s := range c.samples {
				cpu = append(cpu, s.cpu)
			}
			fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %.2f s | %.2f s | %.1f MiB |\n", c.name, median(xs), slices.Min(xs), slices.Max(xs), median(cpu), c.peakMiB())
		}
	}
	return b.String()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func bytesHuman(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// prepare builds the release archive, its index and the uncompressed tar once.
func prepare(goroot, site, archive, plainTar string) error {
	if _, err := os.Stat(filepath.Join(site, "index.json")); err == nil {
		if _, err := os.Stat(plainTar); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(site, 0o755); err != nil {
		return err
	}
	var names []string
	err := filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(goroot, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	write := func(path string, compress bool) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var w io.Writer = f
		var zw *gzip.Writer
		if compress {
			zw = gzip.NewWriter(f)
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, n := range names {
			p := filepath.Join(goroot, filepath.FromSlash(n))
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if n == "VERSION" {
				data = []byte(version + "\ntime 2026-08-28T16:20:06Z\n")
			}
			st, _ := os.Stat(p)
			mode := int64(0o644)
			if st.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := tw.WriteHeader(&tar.Header{Name: "go/" + n, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: st.ModTime()}); err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if zw != nil {
			return zw.Close()
		}
		return nil
	}
	if err := write(archive, true); err != nil {
		return err
	}
	if err := write(plainTar, false); err != nil {
		return err
	}
	sum, err := fileSHA(archive)
	if err != nil {
		return err
	}
	st, _ := os.Stat(archive)
	p := mirror.Host()
	idx := []mirror.Release{{Version: version, Stable: true, Files: []mirror.File{{Filename: filepath.Base(archive), OS: p.OS,
		Arch: p.OfficialArch(), Version: version, SHA256: sum, Size: st.Size(), Kind: "archive"}}}}
	data, _ := json.MarshalIndent(idx, "", " ")
	if err := os.WriteFile(filepath.Join(site, "index.json"), data, 0o644); err != nil {
		return err
	}
	// An empty manifest makes the directory a tree `mirror serve` accepts.
	m := offline.Manifest{Format: offline.Format, SumDB: "sum.golang.org"}
	data, _ = json.Marshal(m)
	return os.WriteFile(filepath.Join(site, offline.ManifestName), data, 0o644)
}

func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func countFiles(tarPath string) int {
	f, err := os.Open(tarPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	tr := tar.NewReader(f)
	for {
		if _, err := tr.Next(); err != nil {
			return n
		}
		n++
	}
}

// serve serves h on loopback; with rate > 0 every connection is capped at rate bytes a second.
func serve(h http.Handler, rate int64) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var ln net.Listener = l
	if rate > 0 {
		ln = &throttledListener{Listener: l, rate: rate}
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + l.Addr().String() + "/", func() { srv.Shutdown(context.Background()) }, nil
}

type throttledListener struct {
	net.Listener
	rate int64
}

func (l *throttledListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &throttledConn{Conn: c, rate: l.rate, start: time.Now()}, nil
}

// throttledConn paces writes so the connection never runs ahead of rate bytes a second.
type throttledConn struct {
	net.Conn
	rate  int64
	sent  int64
	start time.Time
}

func (c *throttledConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), 64<<10)
		k, err := c.Conn.Write(p[:n])
		written += k
		c.sent += int64(k)
		if err != nil {
			return written, err
		}
		p = p[n:]
		due := c.start.Add(time.Duration(float64(c.sent) / float64(c.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	return written, nil
}
