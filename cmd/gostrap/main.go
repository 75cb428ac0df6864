// Command gostrap installs Go toolchains where it is hard. See the README, or 'gostrap help'.
package main

import (
	"os"
	"runtime/pprof"
)

func main() {
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
