//go:build !race

package gostrap

const raceEnabled = false
