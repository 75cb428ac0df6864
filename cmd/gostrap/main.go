// Command gostrap installs Go toolchains where it is hard. See the README, or 'gostrap help'.
package main

import (
	"os"
	"runtime/debug"
	"runtime/pprof"
)

func main() {
	// Keep the heap, and so the RSS, small even when the disk is slow and buffers fill:
	// installs stay under 64 MiB on machines that are short of memory.
	debug.SetMemoryLimit(40 << 20)
	// GOSTRAP_CPUPROFILE=FILE writes a CPU profile of the run, for performance reports.
	if p := os.Getenv("GOSTRAP_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			code := Main(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
