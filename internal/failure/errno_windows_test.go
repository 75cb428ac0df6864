package failure

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// osErrnos are the codes Windows returns, by the class each must get.
var osErrnos = []struct {
	name  string
	errno windows.Errno
	class Class
}{
	{"WSAECONNREFUSED", windows.WSAECONNREFUSED, TCPRefused},
	{"ERROR_CONNECTION_REFUSED", windows.ERROR_CONNECTION_REFUSED, TCPRefused},
	{"WSAENETUNREACH", windows.WSAENETUNREACH, TCPRefused},
	{"WSAEHOSTUNREACH", windows.WSAEHOSTUNREACH, TCPRefused},
	{"ERROR_NETWORK_UNREACHABLE", windows.ERROR_NETWORK_UNREACHABLE, TCPRefused},
	{"ERROR_HOST_UNREACHABLE", windows.ERROR_HOST_UNREACHABLE, TCPRefused},
	{"WSAETIMEDOUT", windows.WSAETIMEDOUT, TCPTimeout},
	{"ERROR_SEM_TIMEOUT", windows.ERROR_SEM_TIMEOUT, TCPTimeout},
	{"WSAECONNRESET", windows.WSAECONNRESET, HTTPStatus},
	{"WSAECONNABORTED", windows.WSAECONNABORTED, HTTPStatus},
	{"WSAENETRESET", windows.WSAENETRESET, HTTPStatus},
	{"ERROR_NETNAME_DELETED", windows.ERROR_NETNAME_DELETED, HTTPStatus},
	{"ERROR_BROKEN_PIPE", windows.ERROR_BROKEN_PIPE, HTTPStatus},
	{"ERROR_DISK_FULL", windows.ERROR_DISK_FULL, Disk},
	{"ERROR_HANDLE_DISK_FULL", windows.ERROR_HANDLE_DISK_FULL, Disk},
	{"ERROR_DISK_QUOTA_EXCEEDED", windows.ERROR_DISK_QUOTA_EXCEEDED, Disk},
	{"ERROR_WRITE_PROTECT", windows.ERROR_WRITE_PROTECT, Disk},
	{"ERROR_FILE_TOO_LARGE", windows.ERROR_FILE_TOO_LARGE, Disk},
	{"ERROR_SHARING_VIOLATION", windows.ERROR_SHARING_VIOLATION, Disk},
	{"ERROR_LOCK_VIOLATION", windows.ERROR_LOCK_VIOLATION, Disk},
	// The Unix codes' invented Windows twins match nothing a system call returns: a refused
	// connection is never mistaken for them, nor they for it.
	{"invented ECONNREFUSED", windows.Errno(syscall.ECONNREFUSED), Other},
	{"invented ENOSPC", windows.Errno(syscall.ENOSPC), Other},
}

// osDiskErrors are file failures with the hint each must give.
var osDiskErrors = []struct {
	name  string
	errno windows.Errno
	hint  string
}{
	{"ERROR_DISK_FULL", windows.ERROR_DISK_FULL, "the disk is full"},
	{"ERROR_SHARING_VIOLATION", windows.ERROR_SHARING_VIOLATION, "a program is using files there"},
	{"ERROR_ACCESS_DENIED", windows.ERROR_ACCESS_DENIED, "Windows refused: a program may be using files there"},
	{"ERROR_DIRECTORY", windows.ERROR_DIRECTORY, "a file stands where a directory is needed"},
}
