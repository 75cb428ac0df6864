//go:build !linux

package testnet

import (
	"errors"
	"os"
	"syscall"
)

// Network namespaces are Linux-only: elsewhere Require skips every test
// before any of these is reached.

const supported = false

var errUnsupported = errors.New("testnet: network namespaces need Linux")

func inNetns(string, func() error) error { return errUnsupported }
func sysProcAttr() *syscall.SysProcAttr  { return nil }
func killGroup(int) error                { return errUnsupported }
func tryLock(*os.File) (bool, error)     { return false, errUnsupported }
func privileged() (bool, string)         { return false, "not Linux" }
