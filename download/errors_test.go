package download_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
)

// Each hop's failure has its class and a hint that names the hop: the proxy (and the variable
// it came from) when the proxy failed, NO_PROXY's entry when it sent the host direct, the
// certificate's issuer and dates, and the clock only when the server's Date disagrees.
func TestErrorsNameTheHop(t *testing.T) {
	proxy := "http://user:s3cret@proxy.corp:3128"
	proxyconnect := func(err error) error { return &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: &timeoutErr{}}
	lookup := &download.LookupError{Host: "proxy.corp", Port: "3128", Server: "10.0.0.53:53", NotFound: true}
	leaf := &x509.Certificate{DNSNames: []string{"go.test"}, Issuer: pkix.Name{CommonName: "Corp Inspection CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	unknown := &tls.CertificateVerificationError{UnverifiedCertificates: []*x509.Certificate{leaf},
		Err: x509.UnknownAuthorityError{Cert: leaf}}
	expired := &tls.CertificateVerificationError{UnverifiedCertificates: []*x509.Certificate{leaf},
		Err: x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired}}

	for _, tc := range []struct {
		name    string
		err     error
		class   failure.Class
		msg     []string
		hint    []string
		hintNot []string
	}{
		{name: "proxy refused", err: &download.ProxyError{Proxy: proxy, Var: "HTTPS_PROXY", Err: proxyconnect(refused)},
			class: failure.ProxyConnect, hint: []string{"http://xxxxx@proxy.corp:3128 (from HTTPS_PROXY)", "refused", "unset HTTPS_PROXY"}},
		{name: "proxy timeout", err: &download.ProxyError{Proxy: proxy, Var: "https_proxy", Err: proxyconnect(timeout)},
			class: failure.ProxyConnect, hint: []string{"(from https_proxy)", "did not answer"}},
		{name: "proxy's name", err: &download.ProxyError{Proxy: proxy, Var: "HTTPS_PROXY", Err: proxyconnect(lookup)},
			class: failure.ProxyConnect, hint: []string{"its host name does not resolve", "proxy.corp does not exist"}},
		{name: "proxy's name, not yet wrapped", err: proxyconnect(lookup), class: failure.ProxyConnect},
		{name: "407 without credentials", err: &download.ProxyError{Proxy: "http://proxy.corp:3128", Var: "HTTPS_PROXY",
			Err: &download.ProxyStatusError{Target: "go.dev:443", StatusCode: 407, Status: "407 Proxy Authentication Required"}},
			class: failure.ProxyAuth, hint: []string{"demands credentials"}, hintNot: []string{"rejected"}},
		{name: "407 with credentials", err: &download.ProxyError{Proxy: proxy, Var: "HTTPS_PROXY",
			Err: &download.ProxyStatusError{Target: "go.dev:443", StatusCode: 407, Status: "407 Proxy Authentication Required", Credentials: true}},
			class: failure.ProxyAuth, hint: []string{"rejected the user name and password"}, hintNot: []string{"demands"}},
		{name: "403 names the port", err: &download.ProxyError{Proxy: "http://proxy.corp:3128",
			Err: &download.ProxyStatusError{Target: "mirror.test:18443", StatusCode: 403, Status: "403 Forbidden"}},
			class: failure.ProxyConnect, msg: []string{"CONNECT mirror.test:18443"}, hint: []string{"port 18443"}, hintNot: []string{"port 443"}},
		{name: "NO_PROXY", err: &download.DirectError{Host: "mirror.test", Entry: ".test", NoProxyVar: "NO_PROXY", Proxy: proxy,
			ProxyVar: "HTTPS_PROXY", Err: refused}, class: failure.TCPRefused,
			msg: []string{`NO_PROXY entry ".test" matches`}, hint: []string{`NO_PROXY entry ".test"`, "xxxxx@proxy.corp"}},
		{name: "unknown issuer", err: &failure.HandshakeError{Host: "go.test", Err: unknown}, class: failure.TLSUnknownAuthority,
			msg: []string{`issued by "Corp Inspection CA"`}, hint: []string{`"Corp Inspection CA"`, "--ca-file"}},
		{name: "expired, clock unknown", err: &failure.HandshakeError{Host: "go.test", Err: expired}, class: failure.TLSExpired,
			msg: []string{"expired " + leaf.NotAfter.UTC().Format(time.DateOnly)}, hint: []string{"expired on"}, hintNot: []string{"clock"}},
		{name: "expired, clocks agree", err: &failure.HandshakeError{Host: "go.test", Err: expired, ClockKnown: true, ClockSkew: time.Second},
			class: failure.TLSExpired, hint: []string{"the server's clock agrees"}, hintNot: []string{"Fix the clock"}},
		{name: "expired, clock ahead", err: &failure.HandshakeError{Host: "go.test", Err: expired, ClockKnown: true, ClockSkew: -400 * 24 * time.Hour},
			class: failure.TLSExpired, hint: []string{"ahead of the server's", "Fix the clock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := failure.Explain(tc.err)
			if p.Class != tc.class {
				t.Errorf("class %s, want %s: %s", p.Class, tc.class, p.Message)
			}
			for _, w := range tc.msg {
				if !strings.Contains(p.Message, w) {
					t.Errorf("message lacks %q: %s", w, p.Message)
				}
			}
			for _, w := range tc.hint {
				if !strings.Contains(p.Hint, w) {
					t.Errorf("hint lacks %q: %s", w, p.Hint)
				}
			}
			for _, w := range tc.hintNot {
				if strings.Contains(p.Hint, w) {
					t.Errorf("hint has %q: %s", w, p.Hint)
				}
			}
			if strings.Contains(p.Message+p.Hint, "s3cret") {
				t.Errorf("the password is printed: %+v", p)
			}
		})
	}
	// A ProxyError outside the proxyconnect error decides the class.
	if c := failure.Classify(&download.ProxyError{Proxy: proxy, Err: proxyconnect(&download.ProxyStatusError{StatusCode: 407})}); c != failure.ProxyAuth {
		t.Errorf("407 under proxyconnect: %s", c)
	}
	var le *download.LookupError
	if !errors.As(proxyconnect(lookup), &le) {
		t.Error("the lookup failure is lost under proxyconnect")
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }
