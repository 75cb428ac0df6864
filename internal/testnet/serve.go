package testnet

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// Serve serves h over HTTP in r's namespace at addr: its zero value
// means a fresh host of r (Host) on port 80, a zero port means 80. The
// handler runs in the test process, so it can record what it sees. The
// server is closed at cleanup. Its Client and URL-based helpers dial from
// the test process, which has no route to it: reach it from the client
// namespace (ProgramCommand) or with DialContext.
func (n *Net) Serve(t testing.TB, r Role, addr netip.AddrPort, h http.Handler) *httptest.Server {
	t.Helper()
	s := n.unstarted(t, r, addr, 80, h)
	s.Start()
	return s
}

// ServeTLS is Serve over TLS with cert, on port 443 by default.
func (n *Net) ServeTLS(t testing.TB, r Role, addr netip.AddrPort, h http.Handler, cert *Cert) *httptest.Server {
	t.Helper()
	s := n.unstarted(t, r, addr, 443, h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	s.StartTLS()
	return s
}

func (n *Net) unstarted(t testing.TB, r Role, addr netip.AddrPort, port uint16, h http.Handler) *httptest.Server {
	t.Helper()
	addr = n.hostPort(t, r, addr, port)
	l, err := n.Listen(r, "tcp", addr.String())
	if err != nil {
		t.Fatalf("testnet: listen in %v: %v", r, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close() // httptest's own, on the host's loopback
	s.Listener = l
	t.Cleanup(func() { closeServer(t, s) })
	return s
}

// closeServer closes s, giving up after a while on handlers that do not
// return: cleanup must end.
func closeServer(t testing.TB, s *httptest.Server) {
	s.CloseClientConnections()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Errorf("testnet: server %s: handlers still running %v after close", s.URL, stopTimeout)
	}
}
