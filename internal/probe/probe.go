// Package probe walks the path to a URL stage by stage, nearest first, as the troubleshooting
// guide does by hand: the proxy, DNS, TCP, TLS (protocol, cipher and the certificate chain, as
// openssl s_client shows them) and one HTTP request. Each stage is bounded; the first failure is
// classified, with a remedy sharpened by what the earlier stages saw (TLS inspection, the
// clock against the server's Date).
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
	Proxy  string  `json:"proxy,omitempty"`
	Stages []Stage `json:"stages"`
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
	// StageTimeout bounds each of DNS, TCP and TLS; HTTP gets twice as long. Default 3s.
	StageTimeout time.Duration
	// Public marks the host as a public site: a certificate from a CA that is not a public
	// root then means TLS inspection.
	Public bool
	// Accept says which HTTP statuses mean the source works (default: below 400).
	Accept func(status int) bool
}

// ProbeURL probes rawURL stage by stage. It never returns nil; failures are in the result.
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

	// The proxy, if one carries the request: DNS and TCP are then the proxy's.
	dialHost, dialPort := host, port
	proxy, err := c.ProxyFor(u)
	if err != nil {
		pr.fail("proxy", 0, fmt.Errorf("proxy settings: %w", err))
		return pr
	}
	if proxy != nil {
		pr.Proxy = failure.Redact(proxy.String())
		dialHost, dialPort = proxy.Hostname(), proxy.Port()
		if dialPort == "" {
			dialPort = map[string]string{"https": "443", "http": "80"}[proxy.Scheme]
		}
		pr.pass("proxy", 0, "via "+pr.Proxy)
	}

	// DNS.
	t := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
	addrs, err := c.LookupHost(sctx, dialHost, dialPort)
	cancel()
	if err != nil {
		pr.fail("dns", time.Since(t), err)
		pr.Error.Hint = strings.NewReplacer("HOST:443", dialHost+":"+dialPort, "HOST", dialHost).Replace(pr.Error.Hint)
		return pr
	}
	detail := strings.Join(addrs, ", ")
	if pin, ok := c.Pin(net.JoinHostPort(dialHost, dialPort)); ok {
		detail = pin + " (--resolve)"
	}
	pr.pass("dns", time.Since(t), detail)

	// TCP, to the first address that accepts.
	t = time.Now()
	var conn net.Conn
	for _, a := range addrs {
		sctx, cancel := context.WithTimeout(ctx, o.StageTimeout)
		target := net.JoinHostPort(a, dialPort)
		if _, ok := c.Pin(net.JoinHostPort(dialHost, dialPort)); ok {
			target = net.JoinHostPort(dialHost, dialPort)
		}
		conn, err = c.DialContext(sctx, "tcp", target)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		pr.fail("tcp", time.Since(t), err)
		return pr
	}
	pr.pass("tcp", time.Since(t), "connected to "+conn.RemoteAddr().String())

	// TLS, when we talk to the server directly; through a proxy the handshake happens inside
	// the tunnel and the HTTP stage reports it.
	if u.Scheme == "https" && proxy == nil {
		t = time.Now()
		info, verr, err := handshake(ctx, conn, host, c, o)
		if err != nil {
			pr.fail("tls", time.Since(t), err)
			return pr
		}
		pr.TLS = info
		if verr != nil {
			pr.fail("tls", time.Since(t), verr)
			pr.explainCert(ctx, c, rawURL, host, verr, o)
			return pr
		}
		pr.pass("tls", time.Since(t), "certificate verified for "+host)
	} else {
		conn.Close()
	}

	// HTTP: one request, no retries; only the headers are read.
	t = time.Now()
	sctx, cancel = context.WithTimeout(ctx, 2*o.StageTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, rawURL, nil)
	req.Header.Set("User-Agent", download.UserAgent)
	resp, err := c.Once(req)
	if err != nil {
		if proxy != nil && u.Scheme == "https" {
			pr.TLS = certFromError(err)
		}
		pr.fail("http", time.Since(t), err)
		if proxy != nil {
			pr.explainCert(ctx, c, rawURL, host, err, o)
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
	opts := x509.VerifyOptions{DNSName: host, Roots: c.Roots(), Intermediates: x509.NewCertPool()}
	for _, ic := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := st.PeerCertificates[0].Verify(opts); err != nil {
		if o.Public {
			info.InspectedBy = inspectedBy(st.PeerCertificates, host)
		}
		return info, &tls.CertificateVerificationError{UnverifiedCertificates: st.PeerCertificates, Err: err}, nil
	}
	info.Verified = true
	if o.Public {
		info.InspectedBy = inspectedBy(st.PeerCertificates, host)
	}
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
	if _, err := chain[0].Verify(opts); err == nil {
		return ""
	}
	var ua x509.UnknownAuthorityError
	if _, err := chain[0].Verify(opts); !errors.As(err, &ua) {
		return ""
	}
	top := chain[len(chain)-1]
	if top.Issuer.CommonName != "" {
		return top.Issuer.CommonName
	}
	return top.Issuer.String()
}

// explainCert sharpens the hint of a certificate failure: TLS inspection on a public site, and
// a clock far from the server's, which makes valid certificates look expired or not yet valid.
func (pr *Result) explainCert(ctx context.Context, c *download.Client, rawURL, host string, err error, o Options) {
	class := failure.Classify(err)
	switch class {
	case failure.TLSUnknownAuthority:
		if pr.TLS != nil && pr.TLS.InspectedBy == "" && o.Public && len(pr.TLS.Chain) > 0 {
			pr.TLS.InspectedBy = pr.TLS.Chain[len(pr.TLS.Chain)-1].Issuer
		}
		if pr.TLS != nil && pr.TLS.InspectedBy != "" {
			pr.Error.Hint = fmt.Sprintf("%s is a public site, but its certificate was issued by %q, not a public CA: "+
				"a TLS-inspecting proxy (corporate firewall or antivirus) re-signs the traffic. Get that CA from your IT "+
				"department and pass it with --ca-file FILE, or add it to the system store (%s)",
				host, pr.TLS.InspectedBy, failure.TrustStoreCommand())
		}
	case failure.TLSExpired, failure.TLSNotYetValid:
		skew, ok := serverClockSkew(ctx, c, rawURL, o)
		if ok {
			pr.ClockSkewMS = skew.Milliseconds()
		}
		leaf := CertInfo{}
		if pr.TLS != nil && len(pr.TLS.Chain) > 0 {
			leaf = pr.TLS.Chain[0]
		}
		now := time.Now()
		switch {
		case ok && (skew > 5*time.Minute || skew < -5*time.Minute):
			pr.Error.Hint = fmt.Sprintf("this machine's clock is %s %s the server's (its Date header): the certificate "+
				"only looks %s. Fix the clock: timedatectl set-ntp true (or ntpdate / w32tm /resync), then retry",
				abs(skew).Round(time.Second), aheadBehind(skew), strings.TrimPrefix(string(class), "tls-"))
		case class == failure.TLSNotYetValid && !leaf.NotBefore.IsZero() && leaf.NotBefore.Sub(now) < 48*time.Hour:
			pr.Error.Hint = fmt.Sprintf("the certificate becomes valid in %s: this machine's clock is probably behind. "+
				"Check `date -u` and sync it (timedatectl set-ntp true)", leaf.NotBefore.Sub(now).Round(time.Second))
		}
	}
}

// serverClockSkew asks the server for its Date with an unverified request: the answer is only
// compared with this machine's clock, nothing from it is used.
func serverClockSkew(ctx context.Context, c *download.Client, rawURL string, o Options) (time.Duration, bool) {
	tr := &http.Transport{DialContext: c.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		Proxy: func(r *http.Request) (*url.URL, error) { return c.ProxyFor(r.URL) }}
	defer tr.CloseIdleConnections()
	sctx, cancel := context.WithTimeout(ctx, 2*o.StageTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodHead, rawURL, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, false
	}
	resp.Body.Close()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return 0, false
	}
	return time.Until(d), true
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// aheadBehind says where this machine's clock is, given the server's Date minus ours.
func aheadBehind(skew time.Duration) string {
	if skew > 0 {
		return "behind"
	}
	return "ahead of"
}
