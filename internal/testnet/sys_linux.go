//go:build linux

package testnet

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

const supported = true

// inNetns runs fn on a fresh OS thread that has joined the network namespace
// mounted at path, then moves the thread back. Sockets fn creates stay in
// that namespace for their whole life, whichever thread uses them later.
//
// If the thread cannot be moved back it is left locked, so the Go runtime
// destroys it when the goroutine ends instead of reusing it elsewhere.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(self)
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", path, err)
			return
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- fmt.Errorf("setns back from %s: %w (fn: %v)", path, err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// sysProcAttr puts a child in its own process group (so cleanup can kill
// the group: squid's helpers, for one) and has the kernel kill it if the
// test process dies first (a test binary that times out never runs its
// cleanups).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the process group pgid leads.
func killGroup(pgid int) error {
	return unix.Kill(-pgid, unix.SIGKILL)
}

// tryLock takes an exclusive lock on f without waiting; false if another
// open file holds it.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// privileged reports whether this process may create network namespaces
// and configure them: CAP_SYS_ADMIN (setns, mounts) and CAP_NET_ADMIN.
func privileged() (bool, string) {
	if os.Geteuid() != 0 {
		return false, fmt.Sprintf("not root (euid %d)", os.Geteuid())
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Sprintf("capget: %v", err)
	}
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}, {unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}} {
		if data[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			return false, "root without " + c.name + " (an unprivileged container?)"
		}
	}
	return true, ""
}
