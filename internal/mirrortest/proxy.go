package mirrortest

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// HTTPProxy is a forward proxy for tests: CONNECT tunnels and absolute-URI requests. Every
// target host is dialled on loopback at its port, so tests can use public-looking names.
type HTTPProxy struct {
	// Auth, when set ("user:pass"), is demanded in Proxy-Authorization: 407 without it.
	Auth string
	// RefuseConnect answers every CONNECT with 403, as a proxy that only allows some ports.
	RefuseConnect bool
	// Requests counts what the proxy was asked.
	Requests atomic.Int32
}

func (p *HTTPProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.Requests.Add(1)
	if p.Auth != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.Auth))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
	}
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		port = "80"
	}
	target := net.JoinHostPort("127.0.0.1", port)
	if r.Method != http.MethodConnect {
		// An absolute-URI request for an http:// URL.
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Host = target
		out.Header.Del("Proxy-Authorization")
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	if p.RefuseConnect {
		http.Error(w, "CONNECT not allowed to "+strings.ReplaceAll(r.Host, "\n", ""), http.StatusForbidden)
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	go func() {
		io.Copy(up, buf)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(conn, up)
	conn.Close()
	up.Close()
}
