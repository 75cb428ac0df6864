package download

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
)

// HTTPError is a response with a status other than the one asked for.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
	// RetryAfter is what the server asked for, when it did; the client never waits longer
	// than its cap, and gives the source up instead.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: %s", failure.Redact(e.URL), e.Status)
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (server asked to retry after %s)", e.RetryAfter.Round(time.Second))
	}
	return msg
}

// Is makes 404 and 410 match fs.ErrNotExist, as cmd/go's web.HTTPError does: those are the
// answers on which a ","-separated GOPROXY list falls through.
func (e *HTTPError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone)
}

func (e *HTTPError) Class() failure.Class {
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return failure.NotFound
	case http.StatusProxyAuthRequired:
		return failure.ProxyAuth
	}
	return failure.HTTPStatus
}

// statusError turns a response with an unexpected status into an *HTTPError. The caller
// closes the body.
func statusError(resp *http.Response) *HTTPError {
	e := &HTTPError{URL: resp.Request.URL.String(), StatusCode: resp.StatusCode, Status: resp.Status}
	if d, ok := retryAfter(resp); ok {
		e.RetryAfter = d
	}
	return e
}

// TooLargeError is a body longer than the cap for it, when no trusted index declared its size.
type TooLargeError struct {
	URL string
	Max int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: body longer than the %d-byte limit", failure.Redact(e.URL), e.Max)
}
func (e *TooLargeError) Class() failure.Class { return failure.HTTPStatus }

// SizeError is a file whose size differs from the one a trusted index declares: the body ran
// past it, or the server itself stated another total (Content-Range). It is not the published
// file, whatever its digest: a verification failure.
type SizeError struct {
	URL      string
	Declared int64
	// Actual is the size the server stated; -1 when the body only ran past Declared.
	Actual int64
}

func (e *SizeError) Error() string {
	if e.Actual < 0 {
		return fmt.Sprintf("%s: body longer than the %d bytes the index declares", failure.Redact(e.URL), e.Declared)
	}
	return fmt.Sprintf("%s: the server's file is %d bytes, the index declares %d", failure.Redact(e.URL), e.Actual, e.Declared)
}
func (e *SizeError) Class() failure.Class { return failure.ChecksumMismatch }

// RangeError is a server's answer to a ranged request that gostrap cannot append safely.
type RangeError struct {
	URL    string
	Detail string
}

func (e *RangeError) Error() string        { return fmt.Sprintf("%s: %s", failure.Redact(e.URL), e.Detail) }
func (e *RangeError) Class() failure.Class { return failure.HTTPStatus }

// SinkError is an error returned by a FetchRequest's Sink (an extractor refusing the archive):
// it ends the fetch at once and is never retried.
type SinkError struct{ Err error }

func (e *SinkError) Error() string { return e.Err.Error() }
func (e *SinkError) Unwrap() error { return e.Err }

// RedirectError is a redirect gostrap refuses to follow.
type RedirectError struct {
	From, To string
	Reason   string
	// Downgrade marks a redirect from https to http.
	Downgrade bool
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect from %s to %s refused: %s", failure.Redact(e.From), failure.Redact(e.To), e.Reason)
}

func (e *RedirectError) Class() failure.Class {
	if e.Downgrade {
		return failure.TLSPlaintext
	}
	return failure.HTTPStatus
}

func (e *RedirectError) Hint() string {
	if e.Downgrade {
		return "the server sent the download to plain HTTP, where anyone on the path can change it; " +
			"use another source"
	}
	return "the server redirects in a loop; use another source"
}

// ProxyStatusError is an HTTP proxy's refusal of a CONNECT request, or its 407 to a plain
// HTTP request.
type ProxyStatusError struct {
	// Target is the host:port the tunnel (or request) was asked for.
	Target     string
	StatusCode int
	Status     string
	// Credentials reports that the proxy URL carried a user name and password.
	Credentials bool
	// Plain marks a plain HTTP request forwarded by the proxy, not a CONNECT.
	Plain bool
}

func (e *ProxyStatusError) Error() string {
	if e.Plain {
		return fmt.Sprintf("the proxy refused the request for %s: %s", e.Target, e.Status)
	}
	return fmt.Sprintf("the proxy refused CONNECT %s: %s", e.Target, e.Status)
}

func (e *ProxyStatusError) Class() failure.Class {
	if e.StatusCode == http.StatusProxyAuthRequired {
		return failure.ProxyAuth
	}
	return failure.ProxyConnect
}

// ProxyError is a failure to get through an HTTP proxy: the proxy could not be reached, or
// refused the request. It names the proxy and where its setting came from.
type ProxyError struct {
	Proxy string
	// Var is the environment variable the proxy came from (HTTPS_PROXY, https_proxy, ...),
	// empty when it was configured otherwise.
	Var string
	Err error
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("through proxy %s: %v", failure.Redact(e.Proxy), e.Err)
}
func (e *ProxyError) Unwrap() error { return e.Err }

// Class is the proxy's: the proxy is the hop that failed, whatever the cause underneath.
func (e *ProxyError) Class() failure.Class {
	if failure.Classify(e.Err) == failure.ProxyAuth {
		return failure.ProxyAuth
	}
	return failure.ProxyConnect
}

func (e *ProxyError) Hint() string {
	proxy := failure.Redact(e.Proxy)
	if e.Var != "" {
		proxy += " (from " + e.Var + ")"
	}
	var ps *ProxyStatusError
	if errors.As(e.Err, &ps) {
		switch {
		case ps.StatusCode == http.StatusProxyAuthRequired && ps.Credentials:
			return "the proxy " + proxy + " rejected the user name and password in its URL: check them, and " +
				"percent-encode @, #, : and / in the password (e.g. # as %23)"
		case ps.StatusCode == http.StatusProxyAuthRequired:
			return "the proxy " + proxy + " demands credentials: put them in the proxy URL, e.g. " +
				"HTTPS_PROXY=http://USER:PASS@proxy:PORT (percent-encode @, # and : in the password)"
		case ps.StatusCode == http.StatusForbidden:
			_, port, _ := net.SplitHostPort(ps.Target)
			return fmt.Sprintf("the proxy %s does not allow CONNECT to %s (port %s): ask for the host and port "+
				"to be allowed, or use a source it allows", proxy, ps.Target, port)
		}
		return "the proxy " + proxy + " refused the connection (" + ps.Status + "): check its rules, or use another proxy or source"
	}
	var rhe tls.RecordHeaderError
	if errors.As(e.Err, &rhe) {
		return "the proxy " + proxy + " speaks plain HTTP, but its URL says https://: use http:// in the proxy URL"
	}
	unset := "unset it"
	if e.Var != "" {
		unset = "unset " + e.Var
	}
	// What lies under the proxy's failure to connect.
	cause := e.Err
	var op *net.OpError
	if errors.As(cause, &op) && op.Op == "proxyconnect" {
		cause = op.Err
	}
	var le *LookupError
	switch {
	case errors.As(e.Err, &le):
		return "the proxy " + proxy + " could not be reached: its host name does not resolve (" + firstLineOf(le.Error()) +
			"): check the host in the proxy URL, or " + unset + " if this network needs no proxy"
	case failure.Classify(cause) == failure.TCPRefused:
		return "the proxy " + proxy + " refused the connection: nothing listens there; check that the proxy is up " +
			"and the port is right, or " + unset + " if this network needs no proxy"
	case failure.Classify(cause) == failure.TCPTimeout:
		return "the proxy " + proxy + " did not answer (connection timed out): a firewall drops the traffic to it or " +
			"the address is wrong; check the proxy URL, or " + unset + " if this network needs no proxy"
	}
	return "the proxy " + proxy + " could not be reached: check that it is up and the host and port are right, " +
		"or " + unset + " if this network needs no proxy; NO_PROXY lists hosts reached directly"
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// LookupError is a host name that did not resolve: the resolver said it does not exist, or gave
// no answer within the DNS budget (Config.DNSTimeout), or failed otherwise. The two first are
// told apart in the message and the hint: a name that does not exist is not made to exist by
// waiting, and a resolver that is silent says nothing about the name.
type LookupError struct {
	Host, Port string
	// Server is the resolver asked, as "addr:port" ("" when unknown).
	Server string
	// NotFound: the resolver answered that the name does not exist (NXDOMAIN).
	NotFound bool
	// Timeout: no answer within Budget; Waited is how long the lookup waited.
	Timeout bool
	Budget  time.Duration
	Waited  time.Duration
	Err     error
}

func (e *LookupError) resolverAt() string {
	if e.Server == "" {
		return "the resolver"
	}
	return "the resolver at " + e.Server
}

func (e *LookupError) Error() string {
	switch {
	case e.NotFound:
		return fmt.Sprintf("lookup %s: %s does not exist (NXDOMAIN from %s)", e.Host, e.Host, e.resolverAt())
	case e.Timeout:
		return fmt.Sprintf("lookup %s: no answer from %s within %s", e.Host, e.resolverAt(), e.Budget)
	}
	return fmt.Sprintf("lookup %s: %v", e.Host, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }
func (e *LookupError) Class() failure.Class {
	if e.Timeout {
		return failure.DNSTimeout
	}
	return failure.DNS
}

func (e *LookupError) Hint() string {
	port := e.Port
	if port == "" {
		port = "443"
	}
	pin := "--resolve " + e.Host + ":" + port + ":ADDR"
	switch {
	case e.NotFound:
		return e.resolverAt() + " says " + e.Host + " does not exist: check the host in the URL; if the name " +
			"exists only on another network (a VPN, an internal zone), this resolver does not know it: pin the " +
			"address for this run with " + pin + ", or switch source (--mirror URL, a reachable GOPROXY, --bundle PATH)"
	case e.Timeout:
		return e.resolverAt() + " gave no answer within " + e.Budget.String() + ": it is down, blocked or very slow " +
			"(check it with nslookup " + e.Host + "); give a slow resolver longer with --dns-timeout 30s " +
			"(GOSTRAP_DNS_TIMEOUT), pin the address with " + pin + ", or use a source that needs no lookup"
	}
	return e.resolverAt() + " could not resolve " + e.Host + ": check DNS (/etc/resolv.conf, nslookup " + e.Host +
		"), pin the address for this run with " + pin + ", or switch source"
}

// DirectError is a direct connection that failed while a proxy is configured: NO_PROXY sent the
// host past the proxy. Its class is the failure's; the hint says which entry matched.
type DirectError struct {
	Host string
	// Entry is the NO_PROXY entry that matched, and NoProxyVar the variable it is in.
	Entry, NoProxyVar string
	// Proxy is the proxy the host did not go through, and ProxyVar where it is set.
	Proxy, ProxyVar string
	Err             error
}

func (e *DirectError) Error() string {
	return fmt.Sprintf("direct to %s (%s entry %q matches; %s not used): %v", e.Host, e.NoProxyVar, e.Entry, e.ProxyVar, e.Err)
}
func (e *DirectError) Unwrap() error        { return e.Err }
func (e *DirectError) Class() failure.Class { return failure.Classify(e.Err) }

func (e *DirectError) Hint() string {
	return fmt.Sprintf("%s went direct, not through the proxy %s (%s), because the %s entry %q matches it; "+
		"if this network only lets the proxy out, remove that entry from %s, or pin a reachable address with "+
		"--resolve", e.Host, failure.Redact(e.Proxy), e.ProxyVar, e.NoProxyVar, e.Entry, e.NoProxyVar)
}
