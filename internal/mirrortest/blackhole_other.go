//go:build !linux

package mirrortest

import "net"

// Blackhole returns the address of a listener that accepts connections and never answers.
func Blackhole(c Cleaner) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c.Cleanup(func() { l.Close() })
	return l.Addr().String()
}
