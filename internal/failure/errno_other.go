//go:build !windows

package failure

import (
	"errors"
	"syscall"
)

// isConnRefused includes a route that rejects: a firewall's REJECT with an ICMP unreachable, or no
// route at all, refuses the connection as surely as a closed port.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EFBIG)
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
