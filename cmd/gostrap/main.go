// Command gostrap installs Go toolchains where it is hard. See the README, or 'gostrap help'.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

func main() {
	// A ceiling on the runtime's memory (heap, stacks, metadata; the binary's own pages come
	// on top, some 9 MiB) so that an install's peak RSS stays under 48 MiB (issue 12). The
	// extraction holds a few MiB in flight and some 11 MiB live at the end of a release, so
	// the collector rarely runs more for it: 24 MiB cost no time measured on tmpfs, 16 MiB
	// doubled it (docs/performance.md). A GOMEMLIMIT the user sets wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(24 << 20)
	}
	os.Exit(profiled(func() int { return Main(os.Args[1:], os.Stdout, os.Stderr) }))
}

// profiled runs f under the profiles the environment asks for, for performance reports:
// GOSTRAP_CPUPROFILE=FILE writes a CPU profile of the run, GOSTRAP_MEMPROFILE=FILE the heap
// profile taken when the heap was largest.
func profiled(f func() int) int {
	if p := os.Getenv("GOSTRAP_MEMPROFILE"); p != "" {
		stop := peakHeapProfile(p)
		defer stop()
	}
	if p := os.Getenv("GOSTRAP_CPUPROFILE"); p != "" {
		if out, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(out)
			defer func() {
				pprof.StopCPUProfile()
				out.Close()
			}()
		}
	}
	return f()
}

// peakHeapProfile samples the live heap every few milliseconds and keeps the heap profile
// taken at its largest; stop writes that profile to path, with the peak in a comment line on
// stderr. The samples cost little; a profile is taken only when the heap has grown by 1 MiB
// past the last one.
func peakHeapProfile(path string) (stop func()) {
	runtime.MemProfileRate = 16 << 10
	done := make(chan struct{})
	finished := make(chan struct{})
	var best bytes.Buffer
	var peak, peakTotal uint64
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			heap, total := s[0].Value.Uint64(), s[1].Value.Uint64()
			peakTotal = max(peakTotal, total)
			if heap >= peak+1<<20 {
				peak = heap
				best.Reset()
				pprof.Lookup("heap").WriteTo(&best, 0)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		fmt.Fprintf(os.Stderr, "gostrap: peak heap objects %.1f MiB, peak runtime total %.1f MiB\n", float64(peak)/(1<<20), float64(peakTotal)/(1<<20))
		os.WriteFile(path, best.Bytes(), 0o644)
	}
}
