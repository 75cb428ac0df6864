//go:build !windows

package gostrap

func underWine() bool { return false }
