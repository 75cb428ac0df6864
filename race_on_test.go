//go:build race

package gostrap

// raceEnabled: this test binary runs under the race detector. The tests that drive the gostrap
// binary in child processes skip then: the children are not built with the detector, so the
// run would find nothing the plain run does not, at several times the cost.
const raceEnabled = true
