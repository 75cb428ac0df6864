//go:build race

package archive

// raceEnabled: this test binary runs under the race detector, which makes sync.Pool drop
// what it is given at random, so allocation counts say nothing about reuse.
const raceEnabled = true
