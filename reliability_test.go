package gostrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/layout"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/offline"
)

// The fault matrix: every fault the fault server can inject, on every source kind, at the
// offsets 0, 1, middle and size-1 where offsets apply, each run checking the invariants:
//   - the outcome is the right one (retry and succeed from the same source, fall back to the
//     next, or a clean error with the right class and exit code);
//   - what got installed is byte-for-byte the verified release (nothing unverified installed);
//   - the toolchain installed before is byte-for-byte unchanged;
//   - no staging is left, and the cache holds nothing but verified downloads and at most one
//     resumable partial.
//
// GOSTRAP_RELIABILITY=full runs the whole matrix; by default a slice of it runs (one offset per
// fault, every kind), fast enough for every change. GOSTRAP_RELIABILITY_OUT names a file the
// figures are appended to (bench/reliability.sh renders docs/reliability.md from it).

// outcome is what a run must end in.
type outcome int

const (
	retried  outcome = iota // succeeds from the faulty source itself (retry or resume)
	fellBack                // the faulty source fails with class, the next source succeeds
	failed                  // the install fails with class and exit code
)

type faultCase struct {
	fault   mirrortest.Fault
	outcome outcome
	class   failure.Class
	// partial seeds the cache with the first 40% of the archive, so the fault meets a resume.
	partial bool
	tls     bool
}

// faultCases lists the faults for an artifact of the given size; byProxy says the artifact is a
// toolchain zip (no declared size; any corruption is a SECURITY ERROR that stops the run).
func faultCases(size int64, byProxy, full bool) []faultCase {
	offsets := []int64{size / 2}
	if full {
		offsets = []int64{0, 1, size / 2, size - 1}
	}
	var cs []faultCase
	for _, off := range offsets {
		cs = append(cs,
			faultCase{fault: mirrortest.Fault{Kind: mirrortest.ResetAfter, Offset: off, Times: 1}, outcome: retried},
			faultCase{fault: mirrortest.Fault{Kind: mirrortest.ShortBody, Offset: off, Times: 1}, outcome: retried},
			faultCase{fault: mirrortest.Fault{Kind: mirrortest.ShortLength, Offset: off, Times: 1}, outcome: retried},
			faultCase{fault: mirrortest.Fault{Kind: mirrortest.StallAfter, Offset: off}, outcome: fellBack, class: failure.Stalled},
		)
		flip := faultCase{fault: mirrortest.Fault{Kind: mirrortest.FlipByte, Offset: off}, outcome: fellBack, class: failure.ChecksumMismatch}
		if byProxy {
			flip.outcome, flip.class = failed, failure.SumDBSecurity
		}
		cs = append(cs, flip)
	}
	forever := faultCase{fault: mirrortest.Fault{Kind: mirrortest.Forever}, outcome: fellBack, class: failure.ChecksumMismatch}
	if byProxy {
		forever.class = failure.HTTPStatus // no declared size: capped at the module zip limit
	}
	cs = append(cs,
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.LongLength, Times: 1}, outcome: retried},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status503, RetryAfter: "1", Times: 1}, outcome: retried},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status429, RetryAfter: time.Now().Add(time.Second).UTC().Format(http.TimeFormat), Times: 1}, outcome: retried},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status503}, outcome: fellBack, class: failure.HTTPStatus},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status429, RetryAfter: "86400"}, outcome: fellBack, class: failure.HTTPStatus},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status429, RetryAfter: "99999999999999999999"}, outcome: fellBack, class: failure.HTTPStatus},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Status503, RetryAfter: time.Now().Add(1000 * time.Hour).UTC().Format(http.TimeFormat)}, outcome: fellBack, class: failure.HTTPStatus},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.RedirectLoop}, outcome: fellBack, class: failure.HTTPStatus},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.RedirectHTTP}, outcome: fellBack, class: failure.TLSPlaintext, tls: true},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.IgnoreRange}, outcome: retried, partial: true},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.BadContentRange}, outcome: fellBack, class: failure.HTTPStatus, partial: true},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.Trickle}, outcome: fellBack, class: failure.Stalled},
		faultCase{fault: mirrortest.Fault{Kind: mirrortest.GzipUnasked}, outcome: fellBack, class: failure.HTTPStatus},
		forever,
	)
	return cs
}

// reliabilityStats are the figures of one matrix run.
type reliabilityStats struct {
	mu              sync.Mutex
	Runs            int     `json:"runs"`
	Faults          int     `json:"faults_injected"`
	InvariantsHeld  int     `json:"invariants_held"`
	InvariantsTotal int     `json:"invariants_checked"`
	Corrupted       int     `json:"corrupted_artifacts_injected"`
	CorruptInstall  int     `json:"corrupted_artifacts_installed"`
	MaxStallGiveUp  float64 `json:"max_seconds_to_give_up_stalled"`
	MaxRetrySleep   float64 `json:"max_seconds_slept_for_retry_after"`
	Kinds           []string
	FaultKinds      map[string]bool
}

func (st *reliabilityStats) check(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	st.mu.Lock()
	st.InvariantsTotal++
	if ok {
		st.InvariantsHeld++
	}
	st.mu.Unlock()
	if !ok {
		t.Errorf(format, args...)
	}
}

// reference installs go1.22.3 cleanly from kind and returns the tree's digest.
func referenceDigest(t *testing.T, s *mirrortest.Servers, kind Kind) string {
	o := testOptions(t, s)
	o.Mirrors = []string{s.MirrorURL()}
	o.Sources = []Kind{kind}
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := mirrortest.TreeDigest(rep.GOROOT, layout.MetaFile)
	return d
}

func TestFaultMatrix(t *testing.T) {
	full := os.Getenv("GOSTRAP_RELIABILITY") == "full"
	s := mirrortest.Start(t, fixture)
	ca := mirrortest.NewCA("Fault Test CA")
	caFile := ca.WriteFile(t.TempDir())
	refs := map[Kind]string{}
	for _, k := range []Kind{KindOfficial, KindMirror, KindProxy} {
		refs[k] = referenceDigest(t, s, k)
	}
	// The toolchain installed before every run, copied into each run's directory.
	template := t.TempDir()
	{
		o := testOptions(t, s)
		o.Dir = template
		if _, err := install(t, mustInstaller(t, o), "1.21.13"); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := mirrortest.TreeDigest(filepath.Join(template, "go1.21.13"))

	st := &reliabilityStats{FaultKinds: map[string]bool{}}
	p := mirrortest.Host
	archive := p.ArchiveName("go1.22.3")
	module := p.ToolchainVersion("go1.22.3")
	// The faulty kind, the fallback after it, and the artifact the faults hit.
	plans := []struct {
		kind, fallback Kind
		artifact       string
		size           int64
	}{
		{KindOfficial, KindMirror, archive, int64(len(fixture.Archives[archive]))},
		{KindMirror, KindProxy, archive, int64(len(fixture.Archives[archive]))},
		{KindProxy, KindOfficial, module + ".zip", int64(len(fixture.ModZips[module]))},
	}
	for _, plan := range plans {
		st.Kinds = append(st.Kinds, string(plan.kind))
		for _, fc := range faultCases(plan.size, plan.kind == KindProxy, full) {
			fc := fc
			name := fmt.Sprintf("%s/%s", plan.kind, fc.fault)
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
				runFault(t, s, st, plan.kind, plan.fallback, plan.artifact, fc, refs, template, before, caFile, ca)
			})
		}
	}
	t.Run("bundle", func(t *testing.T) { bundleFaults(t, s, st, full, template, before) })
	t.Logf("%d runs, %d faults injected, invariants %d/%d, corrupted artifacts %d injected / %d installed, "+
		"stall given up within %.2fs, longest Retry-After sleep %.2fs", st.Runs, st.Faults, st.InvariantsHeld,
		st.InvariantsTotal, st.Corrupted, st.CorruptInstall, st.MaxStallGiveUp, st.MaxRetrySleep)
	writeReliability(t, "fault_matrix", st)
}

func runFault(t *testing.T, s *mirrortest.Servers, st *reliabilityStats, kind, fallback Kind, artifact string,
	fc faultCase, refs map[Kind]string, template, before, caFile string, ca *mirrortest.CA) {
	var base http.Handler
	switch kind {
	case KindOfficial:
		base = fixture.OfficialHandler()
	case KindMirror:
		base = fixture.MirrorHandler()
	case KindProxy:
		base = fixture.ProxyHandler()
	}
	fsrv := &mirrortest.FaultServer{H: base, Fault: fc.fault,
		Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/"+artifact) }}
	var srv *httptest.Server
	if fc.tls {
		plain := httptest.NewServer(base)
		defer plain.Close()
		fsrv.HTTPURL = plain.URL
		srv = mirrortest.TLSServer(t, fsrv, ca.Leaf(mirrortest.LeafOptions{}), nil)
	} else {
		srv = httptest.NewServer(fsrv)
	}
	defer srv.Close()
	defer srv.CloseClientConnections()

	o := testOptions(t, s)
	copyTree(t, template, o.Dir)
	o.Download = download.Config{IdleTimeout: 300 * time.Millisecond, MinSpeed: 16 << 10, SpeedWindow: time.Second,
		RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond, RetryAfterCap: 2 * time.Second,
		CAFile: caFile,
		// Small segments, so that the fixture's archives and zips (about 260 KB) are fetched
		// over several connections, and zips are extracted while they arrive.
		SegmentThreshold: 64 << 10, SegmentSize: 32 << 10}
	o.ProbeTimeout = time.Second
	o.SourceTimeout = 20 * time.Second
	o.Sources = []Kind{kind, fallback}
	switch kind {
	case KindOfficial:
		o.Official = []string{srv.URL + "/dl/"}
		o.Mirrors = []string{s.MirrorURL()}
	case KindMirror:
		o.Mirrors = []string{srv.URL + "/golang/"}
	case KindProxy:
		o.GOPROXY = srv.URL
	}
	if fc.partial {
		// An earlier run's partial download: the fault meets the resume.
		data := fixture.Archives[artifact]
		if kind == KindProxy {
			data = fixture.ModZips[strings.TrimSuffix(artifact, ".zip")]
		}
		name := artifact
		if kind == KindProxy {
			name = "golang.org-toolchain@" + artifact
		}
		os.MkdirAll(filepath.Join(o.CacheDir, "dl"), 0o755)
		os.WriteFile(filepath.Join(o.CacheDir, "dl", name+".partial"), data[:len(data)*4/10], 0o644)
	}

	start := time.Now()
	rep, err := install(t, mustInstaller(t, o), "1.22.3")
	took := time.Since(start)
	st.mu.Lock()
	st.Runs++
	st.Faults += int(fsrv.Faulted.Load())
	st.FaultKinds[string(fc.fault.Kind)] = true
	corrupt := fc.fault.Kind == mirrortest.FlipByte || fc.fault.Kind == mirrortest.Forever || fc.fault.Kind == mirrortest.GzipUnasked
	if corrupt {
		st.Corrupted++
	}
	st.mu.Unlock()

	var faulty *Attempt
	for i, a := range rep.Attempts {
		if a.Kind == string(kind) && a.Error != nil {
			faulty = &rep.Attempts[i]
		}
	}
	switch fc.outcome {
	case retried:
		st.check(t, err == nil && rep.Source != nil && rep.Source.Kind == string(kind), "want success from %s, got %v (attempts %+v)", kind, err, rep.Attempts)
	case fellBack:
		st.check(t, err == nil && rep.Source != nil && rep.Source.Kind == string(fallback), "want fallback to %s, got %v", fallback, err)
		st.check(t, faulty != nil && faulty.Error.Class == fc.class, "faulty attempt: %+v, want class %s", faulty, fc.class)
	case failed:
		st.check(t, err != nil && rep.Error.Class == fc.class && rep.ExitCode() == ExitVerification, "want failure %s exit 4, got %v", fc.class, err)
	}
	if faulty != nil {
		st.mu.Lock()
		switch fc.fault.Kind {
		case mirrortest.StallAfter, mirrortest.Trickle:
			st.MaxStallGiveUp = max(st.MaxStallGiveUp, float64(faulty.DurationMS)/1000)
		}
		st.mu.Unlock()
	}
	if fc.fault.Kind == mirrortest.Status503 || fc.fault.Kind == mirrortest.Status429 {
		st.mu.Lock()
		st.MaxRetrySleep = max(st.MaxRetrySleep, took.Seconds())
		st.mu.Unlock()
	}

	// What got installed is the verified release, byte for byte.
	installed := filepath.Join(o.Dir, "go1.22.3")
	if err == nil {
		got, _ := mirrortest.TreeDigest(installed, layout.MetaFile)
		ok := got == refs[Kind(rep.Source.Kind)]
		st.check(t, ok, "installed tree differs from the verified release")
		if !ok && corrupt {
			st.mu.Lock()
			st.CorruptInstall++
			st.mu.Unlock()
		}
	} else {
		_, statErr := os.Stat(installed)
		st.check(t, os.IsNotExist(statErr), "a failed install left %s", installed)
	}
	checkLeftovers(t, st, o, before)
}

// checkLeftovers checks the invariants on what a run leaves behind.
func checkLeftovers(t *testing.T, st *reliabilityStats, o Options, before string) {
	after, _ := mirrortest.TreeDigest(filepath.Join(o.Dir, "go1.21.13"))
	st.check(t, after == before, "the existing install changed")
	ents, _ := os.ReadDir(filepath.Join(o.Dir, ".gostrap", "staging"))
	st.check(t, len(ents) == 0, "staging left: %v", ents)
	partials := 0
	filepath.WalkDir(filepath.Join(o.CacheDir, "dl"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch name := d.Name(); {
		case strings.HasSuffix(name, ".partial"):
			partials++
		case strings.HasSuffix(name, ".partial.seg"):
			// The record of a partial's chunks: only beside its partial.
			_, err := os.Stat(strings.TrimSuffix(p, ".seg"))
			st.check(t, err == nil, "chunk record without its partial: %s", name)
		case strings.HasSuffix(name, ".lock"), strings.HasSuffix(name, ".json"):
		default:
			// A kept download must have its verification record beside it.
			_, ok := layout.Cache{Dir: o.CacheDir}.ReadRecord(name)
			st.check(t, ok, "unverified file in the cache: %s", name)
		}
		return nil
	})
	st.check(t, partials <= 1, "%d partial downloads left", partials)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		info, _ := d.Info()
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			return os.Symlink(l, dst)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bundleFaults: a bundle is local, so its faults are bytes changed or cut at the offsets; each
// must be refused with exit 4, nothing installed.
func bundleFaults(t *testing.T, s *mirrortest.Servers, st *reliabilityStats, full bool, template, before string) {
	for _, format := range []string{"zip", "archive"} {
		o := TreeOptions{Zips: format == "zip", Archives: format == "archive"}
		dir := makeBundle(t, s, o)
		p := mirrortest.Host
		path := offline.ZipPath(p.ToolchainVersion("go1.22.3"))
		if format == "archive" {
			path = p.ArchiveName("go1.22.3")
		}
		orig, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		size := len(orig)
		offsets := []int{size / 2}
		if full {
			offsets = []int{0, 1, size / 2, size - 1}
		}
		for _, off := range offsets {
			for _, kind := range []string{"flip", "truncate"} {
				var data []byte
				if kind == "flip" {
					data = mirrortest.Flip(orig, off)
				} else {
					data = orig[:off]
				}
				os.WriteFile(filepath.Join(dir, path), data, 0o644)
				oo := offlineOptions(t, s, dir)
				copyTree(t, template, oo.Dir)
				rep, err := install(t, mustInstaller(t, oo), "1.22.3")
				st.mu.Lock()
				st.Runs++
				st.Faults++
				st.Corrupted++
				st.FaultKinds["bundle-"+kind] = true
				st.mu.Unlock()
				st.check(t, err != nil && rep.ExitCode() == ExitVerification, "%s %s@%d: exit %d: %v", format, kind, off, rep.ExitCode(), err)
				if err == nil {
					st.mu.Lock()
					st.CorruptInstall++
					st.mu.Unlock()
				}
				checkLeftovers(t, st, oo, before)
			}
		}
		os.WriteFile(filepath.Join(dir, path), orig, 0o644)
	}
	st.Kinds = append(st.Kinds, "bundle")
}

// writeReliability appends a figure set to GOSTRAP_RELIABILITY_OUT, when set.
func writeReliability(t *testing.T, name string, v any) {
	out := os.Getenv("GOSTRAP_RELIABILITY_OUT")
	if out == "" {
		return
	}
	data, _ := json.Marshal(map[string]any{name: v})
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(append(bytes.TrimSpace(data), '\n'))
}
