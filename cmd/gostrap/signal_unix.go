//go:build unix

package main

import (
	"os/signal"
	"syscall"
)

// A write past RLIMIT_FSIZE must fail with EFBIG, reported as a disk error with staging
// cleaned up, rather than kill the process with SIGXFSZ midway.
func init() { signal.Ignore(syscall.SIGXFSZ) }
