// Package probe walks the path to a URL stage by stage, nearest first, as the troubleshooting
// guide does by hand: the proxy (reached, or bypassed by NO_PROXY), DNS, TCP, TLS (protocol,
// cipher and the certificate chain, as openssl s_client shows them) and one HTTP request. Each
// stage is bounded (DNS by the client's DNS budget, the lookup shared with everything else the
// run does); the first failure is classified, with a remedy sharpened by what the earlier
// stages saw (TLS inspection, the clock against the server's Date).
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
)

// Result is what probing one URL found, stage by stage, nearest first: the proxy, DNS, TCP,
// TLS and HTTP, as the troubleshooting guide walks them by hand.
type Result struct {
	URL string `json:"url"`
	// Proxy is the HTTP proxy the request goes through ("" for a direct connection).
	Proxy string `json:"proxy,omitempty"`
	// NoProxy is the NO_PROXY entry that sent the request direct although a proxy is set.
	NoProxy string  `json:"no_proxy,omitempty"`
	Stages  []Stage `json:"stages"`
	// TLS is the server's side of the handshake, when one took place.
	TLS *TLSInfo `json:"tls,omitempty"`
	// Status is the HTTP status of the probe request.
	Status int `json:"status,omitempty"`
	// ClockSkewMS is the server's Date minus this machine's clock, when the server sent one.
	ClockSkewMS int64 `json:"clock_skew_ms,omitempty"`
	// LatencyMS is the time from the first stage to the HTTP answer.
	LatencyMS int64 `json:"latency_ms"`
	// OK reports that the source answered as a working source does.
	OK bool `json:"ok"`
	// Error is the first failure, classified, with its remedy.
	Error *failure.Problem `json:"error,omitempty"`
}

// Stage is one step of a probe.
type Stage struct {
	Name       string           `json:"name"` // proxy, dns, tcp, tls, http, file
	OK         bool             `json:"ok"`
	Detail     string           `json:"detail,omitempty"`
	DurationMS int64            `json:"duration_ms"`
	Error      *failure.Problem `json:"error,omitempty"`
}

// TLSInfo is what `openssl s_client` would show of a server.
type TLSInfo struct {
	Version  string     `json:"version"`
	Cipher   string     `json:"cipher"`
	Chain    []CertInfo `json:"chain"`
	Verified bool       `json:"verified"`
	// InspectedBy names the issuer when a public site's certificate is signed by a CA that is
	// not a public root: a TLS-inspecting proxy is in the path.
	InspectedBy string `json:"inspected_by,omitempty"`
}

// CertInfo describes one certificate of a chain.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SANs      []string  `json:"sans,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// Options shape a probe.
type Options struct {
	// StageTimeout bounds each of TCP and TLS (and reaching the proxy); HTTP gets twice as long.
	// Default 3s. DNS has the client's DNS budget (download.Config.DNSTimeout): a slow resolver
	// is not a dead source.
	StageTimeout time.Duration
	// Public marks the host as a public site: a certificate from a CA that is not a public
	// root then means TLS inspection.
	Public bool
	// Accept says which HTTP statuses mean the source works (default: below 400).
	Accept func(status int) bool
}

// URL probes rawURL stage by stage. It never returns nil; failures are in the result.
func URL(ctx context.Context, c *download.Client, rawURL string, o Options) *Result {
	if o.StageTimeout <= 0 {
		o.StageTimeout = 3 * time.Second
	}
	if o.Accept == nil {
		o.Accept = func(s int) bool { return s < 400 }
	}
	pr := &Result{URL: failure.Redact(rawURL)}
	start := time.Now()
	defer func() { pr.LatencyMS = time.Since(start).Milliseconds() }()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" && u.Scheme != "file" {
		pr.fail("url", 0, fmt.Errorf("invalid URL %q", rawURL))
		return pr
	}
	if u.Scheme == "file" {
		t := time.Now()
		if _, err := os.Stat(u.Path); err != nil {
			pr.fail("file", time.Since(t), err)
			return pr
		}
		pr.pass("file", time.Since(t), u.Path)
		pr.OK = true
		return pr
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}

	// The proxy, if one carries the request: the proxy must be reached (its name, its port)
	// before anything else can be said; the target's DNS, TCP and TLS are then the proxy's
	// business, and the HTTP stage shows them.
	proxy, err := c.ProxyFor(u)
	if err != nil {
		pr.fail("proxy", 0, fmt.Errorf("proxy settings: %w", err))
		return pr
	}
	var bypass *download.Bypass
	if proxy != nil {
		pr.Proxy = failure.Redact(proxy.String())
		if !pr.reachProxy(ctx, c, u, proxy, o) {
			return pr
		}
	} else if bypass = c.Bypass(u); bypass != nil {
		pr.NoProxy = bypass.Entry
		pr.pass("proxy", 0, fmt.Sprintf("direct: %s entry %q matches %s (%s=%s not used)", bypass.NoProxyVar,
			bypass.Entry, host, bypass.ProxyVar, failure.Redact(bypass.Proxy)))
	}
	// direct names NO_PROXY in the failures of a direct path it chose.
	direct := func(err error) error {
		if bypass == nil {
			return err
		}
		return &download.DirectError{Host: host, Entry: bypass.Entry, NoProxyVar: bypass.NoProxyVar,
			Proxy: bypass.Proxy, ProxyVar: bypass.ProxyVar, Err: err}
	}

	if proxy == nil {
		// DNS, once per run: the lookup is shared with every other use of the host.
		t := time.Now()
		addrs, err := c.LookupHost(ctx, host, port)
		if err != nil {
			pr.fail("dns", time.Since(t), direct(err))
			// The generic hint's placeholders, for a failure that did not name the host.
			pr.Error.Hint = strings.NewReplacer("HOST:443", host+":"+port, "HOST", host).Replace(pr.Error.Hint)
			return pr
		}
		detail := strings.Join(addrs, ", ")
		if pin, ok := c.Pin(net.JoinHostPort(host, port)); ok {
			detail = pin + " (--resolve)"
		}
		pr.pass("dns", time.Since(t), detail)

		// TCP, to the first address that accepts.
		t = time.Now()
		var conn net.Conn
		for _, a := range addrs {
			sctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
			target := net.JoinHostPort(a, port)
			if _, ok := c.Pin(net.JoinHostPort(host, port)); ok {
				target = net.JoinHostPort(host, port)
			}
			conn, err = c.DialContext(sctx, "tcp", target)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			pr.fail("tcp", time.Since(t), direct(err))
			return pr
		}
		pr.pass("tcp", time.Since(t), "connected to "+conn.RemoteAddr().String())

		// TLS, when we talk to the server directly; through a proxy the handshake happens
		// inside the tunnel and the HTTP stage reports it.
		if u.Scheme == "https" {
			t = time.Now()
			info, verr, err := handshake(ctx, conn, host, c, o)
			if err != nil {
				pr.fail("tls", time.Since(t), direct(err))
				return pr
			}
			pr.TLS = info
			if verr != nil {
				he := &failure.HandshakeError{Host: host, Err: verr}
				if cl := failure.Classify(verr); cl == failure.TLSExpired || cl == failure.TLSNotYetValid {
					he.ClockSkew, he.ClockKnown = c.ServerClockSkew(ctx, rawURL)
					if he.ClockKnown {
						pr.ClockSkewMS = he.ClockSkew.Milliseconds()
					}
				}
				pr.fail("tls", time.Since(t), direct(he))
				pr.explainCert(host, he, o)
				return pr
			}
			pr.pass("tls", time.Since(t), "certificate verified for "+host)
		} else {
			conn.Close()
		}
	}

	// HTTP: one request, no retries; only the headers are read.
	t := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*o.StageTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, rawURL, nil)
	req.Header.Set("User-Agent", download.UserAgent)
	resp, err := c.Once(req)
	if err != nil {
		if proxy != nil && u.Scheme == "https" {
			pr.TLS = certFromError(err)
		}
		pr.fail("http", time.Since(t), err)
		var he *failure.HandshakeError
		if proxy != nil && errors.As(err, &he) {
			if he.ClockKnown {
				pr.ClockSkewMS = he.ClockSkew.Milliseconds()
			}
			pr.explainCert(host, he, o)
		}
		return pr
	}
	resp.Body.Close()
	if resp.TLS != nil && pr.TLS == nil {
		pr.TLS = tlsInfo(resp.TLS)
		pr.TLS.Verified = true
		if o.Public {
			pr.TLS.InspectedBy = inspectedBy(resp.TLS.PeerCertificates, host)
		}
	}
	pr.Status = resp.StatusCode
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		pr.ClockSkewMS = time.Until(d).Milliseconds()
	}
	if !o.Accept(resp.StatusCode) {
		pr.fail("http", time.Since(t), &download.HTTPError{URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status})
		return pr
	}
	pr.pass("http", time.Since(t), resp.Status)
	pr.OK = true
	return pr
}

func (pr *Result) pass(name string, d time.Duration, detail string) {
	pr.Stages = append(pr.Stages, Stage{Name: name, OK: true, Detail: detail, DurationMS: d.Milliseconds()})
}

func (pr *Result) fail(name string, d time.Duration, err error) {
	p := failure.Explain(err)
	pr.Stages = append(pr.Stages, Stage{Name: name, Detail: p.Message, DurationMS: d.Milliseconds(), Error: p})
	if pr.Error == nil {
		pr.Error = p
	}
}

// handshake runs a TLS handshake that accepts any certificate, so that the chain can be shown
// even when it does not verify, then verifies it as the download client would. err is a
// handshake failure; verr a verification failure.
func handshake(ctx context.Context, conn net.Conn, host string, c *download.Client, o Options) (*TLSInfo, error, error) {
	cfg := c.TLSConfig(host)
	cfg.InsecureSkipVerify = true
	tc := tls.Client(conn, cfg)
	defer tc.Close()
	hctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if failure.Classify(err) == failure.TLSProtocol {
			if v := oldestVersion(ctx, c, conn.RemoteAddr().String(), host, o); v != "" {
				err = &oldTLSError{err: err, version: v}
			}
		}
		return nil, nil, err
	}
	st := tc.ConnectionState()
	info := tlsInfo(&st)
	if o.Public {
		info.InspectedBy = inspectedBy(st.PeerCertificates, host)
	}
	opts := x509.VerifyOptions{DNSName: host, Roots: c.Roots(), Intermediates: x509.NewCertPool()}
	for _, ic := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := st.PeerCertificates[0].Verify(opts); err != nil {
		return info, &tls.CertificateVerificationError{UnverifiedCertificates: st.PeerCertificates, Err: err}, nil
	}
	info.Verified = true
	return info, nil, nil
}

// oldTLSError is a server that only speaks a TLS version gostrap refuses.
type oldTLSError struct {
	err     error
	version string
}

func (e *oldTLSError) Error() string {
	return fmt.Sprintf("%v (the server offers only %s; gostrap requires TLS 1.2 or newer)", e.err, e.version)
}
func (e *oldTLSError) Unwrap() error        { return e.err }
func (e *oldTLSError) Class() failure.Class { return failure.TLSProtocol }

// oldestVersion finds which older TLS version the server would speak, for the diagnosis only:
// nothing is sent over such a connection.
func oldestVersion(ctx context.Context, c *download.Client, addr, host string, o Options) string {
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS10} {
		sctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
		conn, err := c.DialContext(sctx, "tcp", addr)
		if err != nil {
			cancel()
			return ""
		}
		tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		err = tc.HandshakeContext(sctx)
		tc.Close()
		cancel()
		if err == nil {
			return tls.VersionName(v)
		}
	}
	return ""
}

func tlsInfo(st *tls.ConnectionState) *TLSInfo {
	info := &TLSInfo{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite)}
	for _, cert := range st.PeerCertificates {
		info.Chain = append(info.Chain, certInfo(cert))
	}
	return info
}

func certInfo(c *x509.Certificate) CertInfo {
	ci := CertInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
	ci.SANs = append(ci.SANs, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		ci.SANs = append(ci.SANs, ip.String())
	}
	return ci
}

// certFromError recovers the chain from a verification error (through a proxy, the probe only
// sees the handshake through the HTTP client).
func certFromError(err error) *TLSInfo {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		info := &TLSInfo{}
		for _, c := range ve.UnverifiedCertificates {
			info.Chain = append(info.Chain, certInfo(c))
		}
		return info
	}
	return nil
}

// inspectedBy returns the issuer of a public site's chain when the chain does not verify
// against the system's public roots alone (so it verified, if at all, through --ca-file).
func inspectedBy(chain []*x509.Certificate, host string) string {
	if len(chain) == 0 {
		return ""
	}
	sys, err := x509.SystemCertPool()
	if err != nil {
		return ""
	}
	opts := x509.VerifyOptions{DNSName: host, Roots: sys, Intermediates: x509.NewCertPool()}
	for _, ic := range chain[1:] {
		opts.Intermediates.AddCert(ic)
	}
	var ua x509.UnknownAuthorityError
	if _, err := chain[0].Verify(opts); !errors.As(err, &ua) {
		return "" // verified, or refused for another reason than its issuer
	}
	return failure.Issuer(chain)
}

// explainCert sharpens the hint of a certificate failure on a public site: its certificate
// signed by a CA that is not a public root means TLS inspection. (The clock is the handshake
// error's own business: blamed only when the server's Date disagrees with this machine's.)
func (pr *Result) explainCert(host string, he *failure.HandshakeError, o Options) {
	if failure.Classify(he) != failure.TLSUnknownAuthority || pr.TLS == nil || !o.Public {
		return
	}
	if pr.TLS.InspectedBy == "" && len(pr.TLS.Chain) > 0 {
		pr.TLS.InspectedBy = pr.TLS.Chain[len(pr.TLS.Chain)-1].Issuer
	}
	if pr.TLS.InspectedBy != "" {
		pr.Error.Hint = fmt.Sprintf("%s is a public site, but its certificate was issued by %q, not a public CA: "+
			"a TLS-inspecting proxy (corporate firewall or antivirus) re-signs the traffic. Get that CA from your IT "+
			"department and pass it with --ca-file FILE, or add it to the system store (%s)",
			host, pr.TLS.InspectedBy, failure.TrustStoreCommand())
	}
}

// reachProxy is the proxy stage: the proxy's name resolved and its port connected to, within
// the DNS budget and the stage timeout. A failure is the proxy's (proxy-connect), naming the
// variable it came from.
func (pr *Result) reachProxy(ctx context.Context, c *download.Client, u, proxy *url.URL, o Options) bool {
	t := time.Now()
	port := proxy.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[proxy.Scheme]
	}
	fail := func(err error) bool {
		err = &download.ProxyError{Proxy: proxy.String(), Var: c.ProxyVar(u),
			Err: &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}}
		pr.fail("proxy", time.Since(t), err)
		return false
	}
	if _, err := c.LookupHost(ctx, proxy.Hostname(), port); err != nil {
		return fail(err)
	}
	sctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
	defer cancel()
	conn, err := c.DialContext(sctx, "tcp", net.JoinHostPort(proxy.Hostname(), port))
	if err != nil {
		return fail(err)
	}
	at := conn.RemoteAddr().String()
	conn.Close()
	detail := "via " + pr.Proxy + ", reachable at " + at
	if v := c.ProxyVar(u); v != "" {
		detail += " (from " + v + ")"
	}
	pr.pass("proxy", time.Since(t), detail)
	return true
}
