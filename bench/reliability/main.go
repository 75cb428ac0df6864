// Command reliability runs gostrap's fault and attack suite in full, runs every fuzz target for
// a while, and writes docs/reliability.md from what they measured. Anyone can rerun it:
//
//	go run ./bench/reliability [-fuzztime 3m] [-out docs/reliability.md]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

func main() {
	fuzztime := flag.Duration("fuzztime", 3*time.Minute, "how long to run each fuzz target (0 skips fuzzing)")
	out := flag.String("out", "docs/reliability.md", "report to write")
	flag.Parse()
	if err := run(*fuzztime, *out); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

type fuzzResult struct {
	Pkg, Name string
	Time      time.Duration
	Execs     string
	Seeds     int // regression seeds kept under testdata/fuzz (crashers found earlier)
	Failed    bool
	Detail    string
}

func run(fuzztime time.Duration, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err // before an hour of work, not after
	}
	stats, err := os.CreateTemp("", "reliability-*.jsonl")
	if err != nil {
		return err
	}
	stats.Close()
	defer os.Remove(stats.Name())

	start := time.Now()
	tests := "TestFaultMatrix|TestCrashSafety|TestDiskFullDuringExtraction|TestConcurrentProcesses|" +
		"TestHostileArchives|TestHostileZips|TestDecompressionBomb|TestMillionsOfEntries|TestIndexRollback|" +
		"TestIndexListsWrongArchive|TestTamperedBundles|TestProxySecurity"
	// The archive tests live in internal/archive: with "." alone, -run matched none of them.
	cmd := exec.Command("go", "test", "-count=1", "-run", "^("+tests+")$", "-v", ".", "./internal/archive")
	cmd.Env = append(os.Environ(), "GOSTRAP_RELIABILITY=full", "GOSTRAP_RELIABILITY_OUT="+stats.Name())
	testOut, err := cmd.CombinedOutput()
	suiteTime := time.Since(start)
	passed, failed := countTests(testOut)
	if err != nil {
		os.Stdout.Write(testOut)
		return fmt.Errorf("the suite failed: %v", err)
	}

	figures := map[string]json.RawMessage{}
	data, _ := os.ReadFile(stats.Name())
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		m := map[string]json.RawMessage{}
		if json.Unmarshal(line, &m) == nil {
			for k, v := range m {
				figures[k] = v
			}
		}
	}
	var fuzz []fuzzResult
	if fuzztime > 0 {
		targets, err := fuzzTargets()
		if err != nil {
			return err
		}
		for _, t := range targets {
			fuzz = append(fuzz, runFuzz(t, fuzztime))
		}
	}
	return os.WriteFile(out, render(figures, fuzz, passed, failed, suiteTime), 0o644)
}

func countTests(out []byte) (passed, failed int) {
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "--- PASS") {
			passed++
		} else if strings.HasPrefix(l, "--- FAIL") {
			failed++
		}
	}
	return
}

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)

// fuzzTargets finds every fuzz target in the module.
func fuzzTargets() ([]fuzzResult, error) {
	var out []fuzzResult
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// As the go command does: no testdata, and nothing starting with . or _ (the
			// benchmarks' scratch trees hold whole Go source trees).
			if n := d.Name(); p != "." && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range fuzzFunc.FindAllSubmatch(data, -1) {
			out = append(out, fuzzResult{Pkg: "./" + filepath.Dir(p), Name: string(m[1])})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Pkg+out[i].Name < out[j].Pkg+out[j].Name })
	return out, err
}

var execsRE = regexp.MustCompile(`execs: (\d+)`)

func runFuzz(t fuzzResult, d time.Duration) fuzzResult {
	cmd := exec.Command("go", "test", "-run=^$", "-fuzz=^"+t.Name+"$", "-fuzztime="+d.String(), "-parallel=1", t.Pkg)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Time = time.Since(start)
	if m := execsRE.FindAllSubmatch(out, -1); len(m) > 0 {
		t.Execs = string(m[len(m)-1][1])
	}
	if err != nil {
		t.Failed = true
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Failing input written to") {
				t.Detail = strings.TrimSpace(sc.Text())
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Join(t.Pkg, "testdata", "fuzz", t.Name))
	t.Seeds = len(ents)
	return t
}

func render(fig map[string]json.RawMessage, fuzz []fuzzResult, passed, failed int, suite time.Duration) []byte {
	var b bytes.Buffer
	get := func(section string) map[string]any {
		m := map[string]any{}
		json.Unmarshal(fig[section], &m)
		return m
	}
	fm, crash, conc := get("fault_matrix"), get("crash"), get("concurrency")
	num := func(m map[string]any, k string) string {
		switch v := m[k].(type) {
		case float64:
			if v == float64(int64(v)) {
				return fmt.Sprint(int64(v))
			}
			return fmt.Sprintf("%.2f", v)
		case nil:
			return "n/a"
		default:
			return fmt.Sprint(v)
		}
	}
	fmt.Fprintf(&b, "# Reliability\n\nGenerated by `go run ./bench/reliability` on %s (%d subtests passed, %d failed, %s).\n"+
		"Rerun it to refresh every figure below; `.ci/run` runs the fast part of the same suite on every change.\n\n",
		time.Now().UTC().Format("2006-01-02"), passed, failed, suite.Round(time.Second))
	fmt.Fprintf(&b, "| what | figure |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| fault runs (fault x source kind x offset) | %s |\n", num(fm, "runs"))
	fmt.Fprintf(&b, "| faults injected (requests answered with a fault, bundle files damaged) | %s |\n", num(fm, "faults_injected"))
	fmt.Fprintf(&b, "| invariants held / checked | %s / %s |\n", num(fm, "invariants_held"), num(fm, "invariants_checked"))
	fmt.Fprintf(&b, "| corrupted artifacts injected | %s |\n", num(fm, "corrupted_artifacts_injected"))
	fmt.Fprintf(&b, "| corrupted artifacts installed (must be 0) | %s |\n", num(fm, "corrupted_artifacts_installed"))
	fmt.Fprintf(&b, "| max time to give up on a stalled or trickling source (idle timeout 0.3 s, speed window 1 s) | %s s |\n", num(fm, "max_seconds_to_give_up_stalled"))
	fmt.Fprintf(&b, "| max time an install spent on a hostile Retry-After (cap 2 s in the suite, 10 s by default) | %s s |\n", num(fm, "max_seconds_slept_for_retry_after"))
	fmt.Fprintf(&b, "| crash points killed with SIGKILL / trees intact / next run succeeded | %s / %s / %s |\n", num(crash, "killed"), num(crash, "trees_intact"), num(crash, "reran_ok"))
	fmt.Fprintf(&b, "| concurrent processes on one directory (8 at once) | %s, all consistent |\n", num(conc, "processes"))
	var total time.Duration
	crashers := 0
	for _, f := range fuzz {
		total += f.Time
		crashers += f.Seeds
	}
	if len(fuzz) > 0 {
		fmt.Fprintf(&b, "| fuzzing | %d targets, %s in all |\n", len(fuzz), total.Round(time.Second))
	}
	fmt.Fprintf(&b, "\n## Faults\n\nEach fault is injected by `mirrortest.FaultServer` on the official site, a mirror and the module proxy, at the\n"+
		"offsets 0, 1, middle and size-1 where offsets apply; bundles get flipped and cut files. Outcomes checked: retry and\n"+
		"succeed from the same source (resets, short bodies, wrong Content-Length, one 503/429 with a short Retry-After,\n"+
		"ignored Range), fall back to the next source with the right class (stalls, trickles, persistent 5xx, hostile\n"+
		"Retry-After in seconds, as a date or absurd, redirect loops, https to http, wrong Content-Range, unasked gzip,\n"+
		"endless bodies, flipped bytes), or stop with exit 4 (a flipped toolchain zip is a SECURITY ERROR; a damaged\n"+
		"bundle). Invariants checked after every run: the installed tree equals the verified release byte for byte, the\n"+
		"previous install is unchanged, staging is empty, and the cache holds only verified downloads and at most one\n"+
		"resumable partial.\n\nFault kinds covered: %s.\n", kinds(fm))
	fmt.Fprintf(&b, "\n## Hostile archives and metadata\n\nRefused before anything is written (TestHostileArchives, TestHostileZips): traversal as `../`, `go/../../`,\n"+
		"absolute paths, backslashes, drive letters, `.` and empty elements; symlinks and symlink chains; hard links inside\n"+
		"and outside; character and block devices; FIFOs; duplicate and case-colliding names; a header declaring a\n"+
		"terabyte. Setuid, setgid and sticky bits are dropped. A decompression bomb (128 MiB of zeros in 131 KB) stops at\n"+
		"the size limit; a million empty entries stop at the entry limit. An index listing a darwin archive under linux\n"+
		"is not believed; an index whose latest is older than a release installed before is refused (index-rollback).\n")
	if len(fuzz) > 0 {
		fmt.Fprintf(&b, "\n## Fuzzing\n\n| target | package | time | executions | regression seeds kept | result |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, f := range fuzz {
			res := "no crasher"
			if f.Failed {
				res = "FAILED: " + f.Detail
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s |\n", f.Name, f.Pkg, f.Time.Round(time.Second), f.Execs, f.Seeds, res)
		}
		fmt.Fprintf(&b, "\nCrashers found by earlier runs are kept under `testdata/fuzz/<target>/` and run as regression tests\n"+
			"with every `go test`; the notes on each fix are in the commit history.\n")
	}
	return b.Bytes()
}

func kinds(fm map[string]any) string {
	m, _ := fm["FaultKinds"].(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
