// Package download is gostrap's HTTP client: proxies from the environment, extra CAs, pinned
// addresses (--resolve), each host name looked up once per run within a DNS budget, short
// connect and handshake timeouts, retries through
// go-retryablehttp with a policy that never retries what cannot get better, ranged resume from a
// partial file, a stall detector, and sha256 computed while the bytes stream.
//
// Rules it keeps:
//   - every read from the network is capped (the size an index declares, or a fixed maximum);
//   - certificate and TLS protocol failures, 4xx other than 408/429, and checksum failures are
//     never retried;
//   - a server's Retry-After is honoured up to RetryAfterCap, and a longer one gives the source up
//     instead of sleeping;
//   - a redirect from https to http is refused;
//   - responses are never transparently decompressed (DisableCompression), so the bytes hashed
//     are the bytes the server published.
package download

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/gostrap/gostrap/internal/failure"
)

// Config is how the client reaches the network. The zero value is usable: defaults fill in.
type Config struct {
	// CAFile is a PEM file of extra CAs trusted in addition to the system pool (--ca-file).
	CAFile string
	// Resolve pins host:port to an address for this run: entries "host:port:addr", as curl's
	// --resolve (the guide's hosts-file fix without editing /etc/hosts).
	Resolve []string
	// Proxy chooses the proxy per request; nil means HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
	Proxy func(*http.Request) (*url.URL, error)

	ConnectTimeout time.Duration // one TCP connect (default 10s)
	TLSTimeout     time.Duration // one TLS handshake (default 10s)
	// DNSTimeout bounds the lookup of one host name, made once per run whoever asks (default
	// DefaultDNSTimeout): a resolver that answers within it never fails a download.
	DNSTimeout time.Duration
	// IdleTimeout is how long a transfer may go without a byte, from the request sent to the
	// response headers and between reads of the body, before it has stalled (default 15s).
	IdleTimeout time.Duration
	// HeaderTimeout overrides the wait for response headers (default IdleTimeout).
	HeaderTimeout time.Duration
	// A body slower than MinSpeed bytes a second over SpeedWindow has stalled too: a trickle
	// would otherwise hold a source for hours (default 16 KiB/s over 30s).
	MinSpeed    int64
	SpeedWindow time.Duration

	// Files of SegmentThreshold bytes or more (default 16 MiB), and files of unknown size, are
	// fetched in SegmentSize chunks (default 4 MiB) over up to 8 connections; a negative
	// threshold keeps every download on one connection.
	SegmentThreshold int64
	SegmentSize      int64

	RetryMax      int           // retries of one request (default 3)
	RetryWaitMin  time.Duration // first backoff (default 200ms)
	RetryWaitMax  time.Duration // longest backoff (default 4s)
	RetryAfterCap time.Duration // longest Retry-After obeyed (default 10s)

	// Progress reports transfers; nil reports nothing.
	Progress Progress
	// Logf receives one line per retry and resume; nil discards them.
	Logf func(format string, args ...any)
}

// Client is safe for concurrent use.
type Client struct {
	cfg    Config
	pins   map[string]string // "host:port" -> "addr:port"
	roots  *x509.CertPool
	dialer *net.Dialer
	res    *resolver
	http   *http.Client
	retry  *retryablehttp.Client
	guard  guardMode
	// envProxy: the proxy comes from HTTPS_PROXY/HTTP_PROXY/NO_PROXY; noProxy is NO_PROXY,
	// read as net/http reads it.
	envProxy     bool
	noProxy      *noProxy
	bypassLogged sync.Map // hosts NO_PROXY sent direct, said once
}

// TestNetworkEnv, when set to "loopback", makes every client refuse to resolve or dial anything
// but loopback addresses and --resolve pins. Tests set it so that no test can reach the
// internet by accident (cmd/go's TESTGONETWORK=panic, made an error). Set to "testnet", names
// are resolved, and only loopback and the test networks' 10.213.0.0/16 may be dialed, name
// servers included (internal/testnet).
const TestNetworkEnv = "GOSTRAP_TEST_NETWORK"

// guardMode is what TestNetworkEnv allows.
type guardMode int

const (
	guardNone guardMode = iota
	guardLoopback
	guardTestnet
)

func guardFromEnv() guardMode {
	switch os.Getenv(TestNetworkEnv) {
	case "loopback":
		return guardLoopback
	case "testnet":
		return guardTestnet
	}
	return guardNone
}

var testnetPrefix = netip.MustParsePrefix("10.213.0.0/16")

// allowsAddr reports whether the guard lets a connection go to host, an IP address.
func (g guardMode) allowsAddr(host string) bool {
	if g == guardNone {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || g == guardTestnet && testnetPrefix.Contains(a)
}

// New builds a client from cfg.
func New(cfg Config) (*Client, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.DNSTimeout <= 0 {
		cfg.DNSTimeout = DefaultDNSTimeout
	}
	if cfg.TLSTimeout <= 0 {
		cfg.TLSTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = cfg.IdleTimeout
	}
	if cfg.MinSpeed == 0 {
		cfg.MinSpeed = 16 << 10
	}
	if cfg.SpeedWindow <= 0 {
		cfg.SpeedWindow = 30 * time.Second
	}
	if cfg.SegmentThreshold == 0 {
		cfg.SegmentThreshold = 16 << 20
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = 4 << 20
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 3
	}
	if cfg.RetryMax < 0 {
		cfg.RetryMax = 0
	}
	if cfg.RetryWaitMin <= 0 {
		cfg.RetryWaitMin = 200 * time.Millisecond
	}
	if cfg.RetryWaitMax <= 0 {
		cfg.RetryWaitMax = 4 * time.Second
	}
	if cfg.RetryAfterCap <= 0 {
		cfg.RetryAfterCap = 10 * time.Second
	}
	envProxy := cfg.Proxy == nil
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}

	pins, err := ParseResolve(cfg.Resolve)
	if err != nil {
		return nil, err
	}
	roots, err := LoadRoots(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	guard := guardFromEnv()
	c := &Client{
		cfg:      cfg,
		pins:     pins,
		roots:    roots,
		dialer:   &net.Dialer{KeepAlive: 30 * time.Second},
		res:      newResolver(cfg.DNSTimeout, guard),
		guard:    guard,
		envProxy: envProxy,
	}
	if envProxy {
		c.noProxy = noProxyFromEnv()
		c.cfg.Proxy = c.envProxyFor
		cfg = c.cfg
	}
	tr := &http.Transport{
		Proxy: cfg.Proxy,
		OnProxyConnectResponse: func(_ context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			_, hasPassword := proxy.User.Password()
			return &ProxyStatusError{Target: req.Host, StatusCode: resp.StatusCode, Status: resp.Status, Credentials: hasPassword}
		},
		DialContext:           c.DialContext,
		TLSClientConfig:       c.TLSConfig(""),
		TLSHandshakeTimeout:   cfg.TLSTimeout,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       60 * time.Second,
		// HTTP/1.1 only: a segmented download needs one TCP connection per segment, which a
		// multiplexed HTTP/2 connection would defeat.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: checkRedirect}
	c.retry = &retryablehttp.Client{
		HTTPClient:   c.http,
		Logger:       nil,
		RetryWaitMin: cfg.RetryWaitMin,
		RetryWaitMax: cfg.RetryWaitMax,
		RetryMax:     cfg.RetryMax,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				c.cfg.Logf("retrying %s (attempt %d)", failure.Redact(r.URL.String()), attempt+1)
			}
		},
	}
	return c, nil
}

// Config returns the configuration the client was built with, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// TLSConfig is the client's TLS configuration: system roots plus --ca-file, TLS 1.2 or newer.
func (c *Client) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12, ServerName: serverName}
}

// Roots is the pool of trusted CAs: the system's plus --ca-file; nil means the system's alone.
func (c *Client) Roots() *x509.CertPool { return c.roots }

// Pin returns the address --resolve pins hostport to.
func (c *Client) Pin(hostport string) (string, bool) {
	a, ok := c.pins[hostport]
	return a, ok
}

// ProxyFor returns the proxy a request to u goes through, or nil for a direct connection.
func (c *Client) ProxyFor(u *url.URL) (*url.URL, error) {
	return c.cfg.Proxy(&http.Request{URL: u, Header: http.Header{}})
}

// LookupHost resolves host as the client's dialer would: pins first, then DNS, looked up once
// per run (a failure too) within the DNS budget. A failed lookup is a *LookupError.
func (c *Client) LookupHost(ctx context.Context, host, port string) ([]string, error) {
	if a, ok := c.pins[net.JoinHostPort(host, port)]; ok {
		h, _, _ := net.SplitHostPort(a)
		return []string{h}, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return []string{host}, nil
	}
	if c.guard == guardLoopback && host != "localhost" {
		return nil, guardErr(host)
	}
	return c.res.LookupHost(ctx, host, port)
}

// DialContext dials addr, honouring --resolve pins and the test network guard. Host names are
// resolved once per run (LookupHost); the connect timeout is spread over the addresses, and
// the other address family is tried too when the first is slow, as net.Dialer does.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if pinned, ok := c.pins[addr]; ok {
		return c.dialOne(ctx, network, pinned, c.cfg.ConnectTimeout)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	addrs, err := c.LookupHost(ctx, host, port)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	for _, a := range addrs {
		if !c.guard.allowsAddr(a) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: guardErr(a)}
		}
	}
	return c.dialAddrs(ctx, network, addrs, port)
}

// dialOne connects to one address within timeout.
func (c *Client) dialOne(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.dialer.DialContext(ctx, network, addr)
}

// fallbackDelay is how long the first address family has before the other is tried alongside
// (net.Dialer's default, RFC 6555).
const fallbackDelay = 300 * time.Millisecond

// dialAddrs connects to the first of addrs that accepts: the addresses of the first one's family
// in turn, and from fallbackDelay on those of the other family alongside.
func (c *Client) dialAddrs(ctx context.Context, network string, addrs []string, port string) (net.Conn, error) {
	var primary, fallback []string
	for _, a := range addrs {
		if len(primary) == 0 || isIPv4(a) == isIPv4(primary[0]) {
			primary = append(primary, a)
		} else {
			fallback = append(fallback, a)
		}
	}
	if len(fallback) == 0 {
		return c.dialSerial(ctx, network, primary, port)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn    net.Conn
		err     error
		primary bool
	}
	results := make(chan result, 2)
	start := func(list []string, primary bool) {
		go func() {
			conn, err := c.dialSerial(ctx, network, list, port)
			results <- result{conn, err, primary}
		}()
	}
	start(primary, true)
	timer := time.NewTimer(fallbackDelay)
	defer timer.Stop()
	pending, fellBack := 1, false
	var firstErr error
	for {
		select {
		case <-timer.C:
			if !fellBack {
				fellBack = true
				pending++
				start(fallback, false)
			}
		case r := <-results:
			pending--
			if r.err == nil {
				if pending > 0 {
					go func() {
						if late := <-results; late.conn != nil {
							late.conn.Close()
						}
					}()
				}
				return r.conn, nil
			}
			if firstErr == nil || r.primary {
				firstErr = r.err
			}
			if !fellBack {
				fellBack = true
				pending++
				start(fallback, false)
			} else if pending == 0 {
				return nil, firstErr
			}
		}
	}
}

// dialSerial tries addrs in turn, each with its share of the connect timeout (at least 2s), as
// net.Dialer does.
func (c *Client) dialSerial(ctx context.Context, network string, addrs []string, port string) (net.Conn, error) {
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	var firstErr error
	for i, a := range addrs {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		share := max(left/time.Duration(len(addrs)-i), min(2*time.Second, left))
		conn, err := c.dialOne(ctx, network, net.JoinHostPort(a, port), share)
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
	}
	return nil, firstErr
}

func isIPv4(a string) bool {
	ip, err := netip.ParseAddr(a)
	return err == nil && ip.Unmap().Is4()
}

func guardErr(host string) error {
	return &net.DNSError{Err: "no such host (" + TestNetworkEnv + "=loopback)", Name: host, IsNotFound: true}
}

// ParseResolve parses --resolve entries "host:port:addr" into "host:port" -> "addr:port".
func ParseResolve(entries []string) (map[string]string, error) {
	pins := map[string]string{}
	for _, e := range entries {
		for _, e := range strings.Split(e, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			host, rest, ok1 := strings.Cut(e, ":")
			port, addr, ok2 := strings.Cut(rest, ":")
			addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
			if !ok1 || !ok2 || host == "" || port == "" || net.ParseIP(addr) == nil {
				return nil, fmt.Errorf("invalid --resolve %q: want HOST:PORT:ADDRESS, e.g. go.dev:443:142.250.1.1", e)
			}
			pins[net.JoinHostPort(host, port)] = net.JoinHostPort(addr, port)
		}
	}
	return pins, nil
}

// LoadRoots returns the system roots plus the certificates in caFile (SSL_CERT_FILE and
// SSL_CERT_DIR work through the system pool as in any Go program). Without caFile it returns
// nil, which crypto/tls and crypto/x509 read as the system roots, loaded on the first
// handshake: an install from a plain-http or file source never pays for them (0.07 s of CPU).
func LoadRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading --ca-file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	prev := via[len(via)-1]
	if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return &RedirectError{From: prev.URL.String(), To: req.URL.String(), Reason: "downgrade from https to http", Downgrade: true}
	}
	if len(via) >= 10 {
		return &RedirectError{From: via[0].URL.String(), To: req.URL.String(), Reason: "more than 10 redirects"}
	}
	return nil
}

// errRetryAfterTooLong marks a response whose Retry-After exceeds the cap: the source is given
// up rather than slept on.
var errRetryAfterTooLong = errors.New("Retry-After longer than the cap")

// checkRetry is the retry policy: retry what can get better (timeouts, resets, 5xx, 408, 429
// within the Retry-After cap), never what cannot (certificates, TLS protocol, DNS, refused
// connections, other 4xx).
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	if err != nil {
		hs, _ := ctx.Value(handshakeKey{}).(*handshakeTrace)
		if hs.failed() != nil {
			err = &failure.HandshakeError{Err: err}
		}
		if hs.stalled(err) {
			// A stall is resumed by the caller, which counts stalls across requests: a server
			// that stays silent is given up after twice the idle timeout, not retries times it.
			return false, nil
		}
		return Retryable(err), nil
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout:
		return true, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp); ok && d > c.cfg.RetryAfterCap {
			return false, nil
		}
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// Retryable reports whether a transport error may go away on a second try.
func Retryable(err error) bool {
	switch failure.Classify(err) {
	case failure.TCPTimeout, failure.HTTPStatus, failure.Other:
		var re *RedirectError
		return !errors.As(err, &re)
	}
	return false
}

func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	d := retryablehttp.DefaultBackoff(min, max, attempt, resp)
	if d > c.cfg.RetryAfterCap {
		d = c.cfg.RetryAfterCap
	}
	return d
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(resp *http.Response) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<32)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// do sends req with retries and returns a response whose status the caller checks.
func (c *Client) do(ctx context.Context, method, rawURL string, header http.Header) (*http.Response, error) {
	ctx, hs := traceHandshake(ctx)
	req, err := retryablehttp.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.retry.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, c.failed(ctx, req.Request, hs.wrap(req.URL, err))
	}
	if err := c.proxyStatus(req.Request, resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Once sends req once, without retries (a probe), naming proxy and handshake failures as such.
func (c *Client) Once(req *http.Request) (*http.Response, error) {
	ctx, hs := traceHandshake(req.Context())
	req = req.WithContext(ctx)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.failed(ctx, req, hs.wrap(req.URL, err))
	}
	if err := c.proxyStatus(req, resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// failed completes the error of a request: the server's clock when its certificate looks
// expired or not yet valid, and the hop that failed (the proxy, or NO_PROXY's direct path).
func (c *Client) failed(ctx context.Context, req *http.Request, err error) error {
	var he *failure.HandshakeError
	if errors.As(err, &he) {
		if cl := failure.Classify(err); (cl == failure.TLSExpired || cl == failure.TLSNotYetValid) && ctx.Err() == nil {
			he.ClockSkew, he.ClockKnown = c.ServerClockSkew(ctx, req.URL.String())
		}
	}
	return c.proxyErr(req, err)
}

// proxyStatus turns a proxy's 407 to a plain HTTP request it forwards into the same error as
// its 407 to a CONNECT: only a proxy answers 407.
func (c *Client) proxyStatus(req *http.Request, resp *http.Response) error {
	if resp.StatusCode != http.StatusProxyAuthRequired {
		return nil
	}
	p, err := c.cfg.Proxy(req)
	if err != nil || p == nil || req.URL.Scheme == "https" {
		return nil
	}
	_, hasPassword := p.User.Password()
	ps := &ProxyStatusError{Target: canonicalHostPort(req.URL), StatusCode: resp.StatusCode, Status: resp.Status,
		Credentials: hasPassword, Plain: true}
	return &ProxyError{Proxy: p.String(), Var: c.ProxyVar(req.URL), Err: ps}
}

// canonicalHostPort is u's host with its port, the scheme's default when it names none.
func canonicalHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// ServerClockSkew asks the server at rawURL for its Date, over a connection whose certificate
// is not checked: the answer is only compared with this machine's clock (the server's Date
// minus ours), to tell a wrong clock from a certificate that really expired. Nothing else from
// it is used.
func (c *Client) ServerClockSkew(ctx context.Context, rawURL string) (time.Duration, bool) {
	tr := &http.Transport{DialContext: c.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		Proxy: c.cfg.Proxy, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return 0, false
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
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

// handshakeTrace follows a request through its attempts: the TLS handshake's failure, so that
// it can be told apart from one on an established connection (which is worth a retry), and
// whether the request was written, so that a wait for headers that times out is a stall.
type handshakeTrace struct {
	mu    sync.Mutex
	err   error
	wrote bool
}

type handshakeKey struct{}

func traceHandshake(ctx context.Context) (context.Context, *handshakeTrace) {
	hs := &handshakeTrace{}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			hs.mu.Lock()
			hs.wrote = false
			hs.mu.Unlock()
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			hs.mu.Lock()
			hs.err = err
			hs.mu.Unlock()
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			hs.mu.Lock()
			hs.wrote = i.Err == nil
			hs.mu.Unlock()
		},
	})
	return context.WithValue(ctx, handshakeKey{}, hs), hs
}

// failed returns the handshake failure of the request's last attempt, if any.
func (hs *handshakeTrace) failed() error {
	if hs == nil {
		return nil
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.err
}

// stalled reports whether err is a wait for response headers that timed out after the request
// was written: the server accepted it and said nothing.
func (hs *handshakeTrace) stalled(err error) bool {
	if hs == nil {
		return false
	}
	var ne net.Error
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.wrote && errors.As(err, &ne) && ne.Timeout()
}

// wrap marks err as a handshake failure when the handshake failed, and as a stall when the
// server never answered a request it was sent.
func (hs *handshakeTrace) wrap(u *url.URL, err error) error {
	if hs.stalled(err) {
		return &TransferError{URL: u.String(), Err: fmt.Errorf("no response headers within the idle timeout: %w", failure.ErrStalled)}
	}
	var already *failure.HandshakeError
	var op *net.OpError
	if hs.failed() == nil || errors.As(err, &already) || errors.As(err, &op) && op.Op == "proxyconnect" {
		return err // no handshake failed, or it was the proxy's (an https:// proxy URL)
	}
	return &failure.HandshakeError{Host: u.Host, Err: err}
}

// proxyErr wraps err as a proxy failure when the request went through a proxy and the proxy is
// the hop that failed (it could not be reached, or it refused), and as a direct failure when
// NO_PROXY sent the request past a configured proxy. Failures of the target through the proxy
// (its certificate, its answer) stay the target's.
func (c *Client) proxyErr(req *http.Request, err error) error {
	p, perr := c.cfg.Proxy(req)
	if perr != nil {
		return err
	}
	if p == nil {
		if b := c.Bypass(req.URL); b != nil {
			switch failure.Classify(err) {
			case failure.HTTPStatus, failure.NotFound, failure.Canceled, failure.Disk:
			default:
				return &DirectError{Host: req.URL.Hostname(), Entry: b.Entry, NoProxyVar: b.NoProxyVar,
					Proxy: b.Proxy, ProxyVar: b.ProxyVar, Err: err}
			}
		}
		return err
	}
	wrap := func() error { return &ProxyError{Proxy: p.String(), Var: c.ProxyVar(req.URL), Err: err} }
	var already *ProxyError
	if errors.As(err, &already) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		return wrap() // the proxy itself: not reached (refused, timed out, its name) or its TLS
	}
	var ps *ProxyStatusError
	if errors.As(err, &ps) {
		return wrap()
	}
	switch failure.Classify(err) {
	case failure.Other, failure.ProxyAuth, failure.ProxyConnect:
		return wrap()
	case failure.TLSPlaintext:
		if p.Scheme == "https" {
			// An https:// proxy URL for a proxy that speaks plain HTTP.
			return wrap()
		}
	}
	return err
}

// Bypass is why a request goes direct although a proxy is configured for its scheme: the
// NO_PROXY entry that matched.
type Bypass struct {
	Host string
	// Entry is the NO_PROXY entry as written (lower case), NoProxyVar its variable.
	Entry, NoProxyVar string
	// Proxy is the proxy not used (its URL, which may hold a password: redact it), and ProxyVar
	// the variable it is set in.
	Proxy, ProxyVar string
}

// Bypass reports the NO_PROXY entry that sends u direct although HTTPS_PROXY or HTTP_PROXY
// names a proxy for its scheme; nil when u goes through the proxy, when no proxy is set, when
// the proxy was configured otherwise, and for localhost and loopback addresses (never proxied).
func (c *Client) Bypass(u *url.URL) *Bypass {
	pv := c.ProxyVar(u)
	if pv == "" {
		return nil
	}
	entry, ok := c.noProxy.match(u)
	if !ok || entry == "localhost" || entry == "loopback" {
		return nil
	}
	return &Bypass{Host: u.Hostname(), Entry: entry, NoProxyVar: c.noProxy.Var, Proxy: os.Getenv(pv), ProxyVar: pv}
}

// envProxyFor is the proxy from the environment (http.ProxyFromEnvironment), saying once per
// host when NO_PROXY sends one direct.
func (c *Client) envProxyFor(req *http.Request) (*url.URL, error) {
	p, err := http.ProxyFromEnvironment(req)
	if err != nil || p != nil {
		return p, err
	}
	if b := c.Bypass(req.URL); b != nil {
		if _, logged := c.bypassLogged.LoadOrStore(b.Host, true); !logged {
			c.cfg.Logf("%s: direct, not through the proxy (%s entry %q matches; %s not used)", b.Host, b.NoProxyVar, b.Entry, b.ProxyVar)
		}
	}
	return nil, nil
}

// ProxyVar names the environment variable http.ProxyFromEnvironment takes the proxy for u
// from (HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy), "" when none is set for its scheme
// or the proxy was configured otherwise.
func (c *Client) ProxyVar(u *url.URL) string {
	if !c.envProxy {
		return ""
	}
	names := []string{"HTTP_PROXY", "http_proxy"}
	if u.Scheme == "https" {
		names = []string{"HTTPS_PROXY", "https_proxy"}
	}
	for _, n := range names {
		if os.Getenv(n) != "" {
			return n
		}
	}
	return ""
}

// UserAgent identifies gostrap to servers.
var UserAgent = "gostrap/0.1 (+https://github.com/gostrap/gostrap)"
