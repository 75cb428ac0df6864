package mirrortest

import (
	"fmt"
	"net"
	"syscall"
)

// Blackhole returns the address of a listener whose accept queue is full, so that a connect
// to it never completes, as against a firewall that drops packets: the listen backlog is 0 and
// one connection that is never accepted fills it.
func Blackhole(c Cleaner) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		panic(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		panic(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	c.Cleanup(func() { filler.Close(); syscall.Close(fd) })
	return addr
}
