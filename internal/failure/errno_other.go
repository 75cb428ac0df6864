//go:build !windows

package failure

import (
	"errors"
	"syscall"
)

func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// isUnreachable: no route to the network or host (an ICMP unreachable, or no network at all).
// Classify counts it as refused: a firewall's REJECT, or no route at all, refuses the connection
// as surely as a closed port.
func isUnreachable(err error) bool {
	return is(err, syscall.ENETUNREACH, syscall.EHOSTUNREACH)
}

func isConnReset(err error) bool {
	return is(err, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED, syscall.ENETRESET)
}

// isTimeoutErrno: the system gave up connecting.
func isTimeoutErrno(err error) bool { return errors.Is(err, syscall.ETIMEDOUT) }

func isDiskFull(err error) bool {
	return is(err, syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EFBIG)
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// isInUse: the file is busy (a running executable written to, a mount point removed).
func isInUse(err error) bool { return is(err, syscall.ETXTBSY, syscall.EBUSY) }

// isAccessDenied is false: a Unix refusal is a permission (fs.ErrPermission), never a file in
// use.
func isAccessDenied(error) bool { return false }
