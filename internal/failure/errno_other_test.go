//go:build !windows

package failure

import "syscall"

// osErrnos are the codes Unix returns, by the class each must get.
var osErrnos = []struct {
	name  string
	errno syscall.Errno
	class Class
}{
	{"ECONNREFUSED", syscall.ECONNREFUSED, TCPRefused},
	{"ENETUNREACH", syscall.ENETUNREACH, TCPRefused},
	{"EHOSTUNREACH", syscall.EHOSTUNREACH, TCPRefused},
	{"ETIMEDOUT", syscall.ETIMEDOUT, TCPTimeout},
	{"ECONNRESET", syscall.ECONNRESET, HTTPStatus},
	{"ECONNABORTED", syscall.ECONNABORTED, HTTPStatus},
	{"EPIPE", syscall.EPIPE, HTTPStatus},
	{"ENOSPC", syscall.ENOSPC, Disk},
	{"EDQUOT", syscall.EDQUOT, Disk},
	{"EROFS", syscall.EROFS, Disk},
	{"ETXTBSY", syscall.ETXTBSY, Disk},
}

var osDiskErrors = []struct {
	name  string
	errno syscall.Errno
	hint  string
}{
	{"ENOSPC", syscall.ENOSPC, "the disk is full"},
	{"EACCES", syscall.EACCES, "no permission to write there"},
	{"ENOTDIR", syscall.ENOTDIR, "a file stands where a directory is needed"},
}
