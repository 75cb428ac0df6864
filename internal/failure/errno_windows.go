package failure

import "golang.org/x/sys/windows"

// Windows reports socket and disk failures with its own codes: syscall.ECONNREFUSED and
// friends are invented constants there that no system call returns. Sockets fail with the
// WSAE* codes (Go's net package gets them from WSAGetOverlappedResult, wrapped in an
// *os.SyscallError named for the call, "connectex" or "wsarecv", inside a *net.OpError);
// files with the ERROR_* codes inside an *fs.PathError or *os.LinkError.

func isConnRefused(err error) bool {
	return is(err, windows.WSAECONNREFUSED, windows.ERROR_CONNECTION_REFUSED)
}

// isUnreachable: no route to the network or host (an ICMP unreachable, or no network at all).
func isUnreachable(err error) bool {
	return is(err, windows.WSAENETUNREACH, windows.WSAEHOSTUNREACH, windows.ERROR_NETWORK_UNREACHABLE,
		windows.ERROR_HOST_UNREACHABLE)
}

func isConnReset(err error) bool {
	// ERROR_NETNAME_DELETED is what an overlapped read on a reset connection sometimes
	// reports instead of WSAECONNRESET (Go's own poller says as much).
	return is(err, windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.WSAENETRESET,
		windows.ERROR_NETNAME_DELETED, windows.ERROR_BROKEN_PIPE)
}

// isTimeoutErrno: the system gave up connecting (Errno.Timeout is false for WSAETIMEDOUT: it
// compares with the invented ETIMEDOUT).
func isTimeoutErrno(err error) bool {
	return is(err, windows.WSAETIMEDOUT, windows.ERROR_SEM_TIMEOUT, windows.ERROR_TIMEOUT)
}

func isDiskFull(err error) bool {
	return is(err, windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL, windows.ERROR_WRITE_PROTECT,
		windows.ERROR_DISK_QUOTA_EXCEEDED, windows.ERROR_FILE_TOO_LARGE)
}

func isNotDir(err error) bool { return is(err, windows.ERROR_DIRECTORY, windows.ERROR_PATH_NOT_FOUND) }

// isInUse: another program holds the file (a running go.exe or gopls, an editor, a virus
// scan). ERROR_ACCESS_DENIED is said too when a directory holding an open file is renamed.
func isInUse(err error) bool {
	return is(err, windows.ERROR_SHARING_VIOLATION, windows.ERROR_LOCK_VIOLATION)
}

// isAccessDenied is the refusal Windows gives both for a missing permission and for a file in
// use: the hint names both.
func isAccessDenied(err error) bool { return is(err, windows.ERROR_ACCESS_DENIED) }
