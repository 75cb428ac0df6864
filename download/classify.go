package download

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Class is a stable identifier for why an operation failed. The values are part of the CLI
// contract (DESIGN.md, "Error classes"): scripts branch on them, so they never change.
type Class string

const (
	ClassDNS                 Class = "dns"
	ClassTCPRefused          Class = "tcp-refused"
	ClassTCPTimeout          Class = "tcp-timeout"
	ClassTLSUnknownAuthority Class = "tls-unknown-authority"
	ClassTLSHostname         Class = "tls-hostname"
	ClassTLSExpired          Class = "tls-expired"
	ClassTLSNotYetValid      Class = "tls-not-yet-valid"
	ClassTLSProtocol         Class = "tls-protocol"
	ClassTLSPlaintext        Class = "tls-plaintext"
	ClassProxyAuth           Class = "proxy-auth"
	ClassProxyConnect        Class = "proxy-connect"
	ClassHTTPStatus          Class = "http-status"
	ClassNotFound            Class = "not-found"
	ClassStalled             Class = "stalled"
	ClassChecksumMismatch    Class = "checksum-mismatch"
	ClassSumDBSecurity       Class = "sumdb-security"
	ClassArchiveUnsafe       Class = "archive-unsafe"
	ClassDisk                Class = "disk"
	ClassCanceled            Class = "canceled"
	// ClassUntrusted is bytes that nothing trustworthy vouches for: a mirror's download with
	// neither an official index nor the checksum database reachable. An addition to DESIGN.
	ClassUntrusted Class = "untrusted"
	// ClassIndexRollback is an index whose newest release is older than one this machine has
	// already installed: a stale mirror or a freeze attack. An addition to DESIGN.
	ClassIndexRollback Class = "index-rollback"
	// ClassOther is for failures none of the stable classes describe (a bug, a malformed
	// index). It is an addition to the DESIGN list, never a replacement for one of its names.
	ClassOther Class = "other"
)

// Verification reports whether failures of this class mean the bytes could not be trusted
// (exit 4) rather than that they could not be fetched (exit 3).
func (c Class) Verification() bool {
	switch c {
	case ClassChecksumMismatch, ClassSumDBSecurity, ClassArchiveUnsafe, ClassUntrusted, ClassIndexRollback:
		return true
	}
	return false
}

// Unreachable reports whether the class means a source could not serve the request: the
// network, TLS, a proxy, or the server said no. These failures make a source fall through to
// the next one and, when every source fails this way, exit 3.
func (c Class) Unreachable() bool {
	switch c {
	case ClassDNS, ClassTCPRefused, ClassTCPTimeout, ClassTLSUnknownAuthority, ClassTLSHostname,
		ClassTLSExpired, ClassTLSNotYetValid, ClassTLSProtocol, ClassTLSPlaintext, ClassProxyAuth,
		ClassProxyConnect, ClassHTTPStatus, ClassNotFound, ClassStalled:
		return true
	}
	return false
}

// Classer is implemented by errors that know their own class (checksum, archive and disk
// errors from other packages), so Classify needs no import of them.
type Classer interface{ Class() Class }

// Hinter is implemented by errors that carry their own remedy.
type Hinter interface{ Hint() string }

// Problem is a classified failure: what to print and what to do next.
type Problem struct {
	Class   Class  `json:"class"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (p *Problem) Error() string { return p.Message }

// Explain classifies err and attaches the remedy for its class.
func Explain(err error) *Problem {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	c := Classify(err)
	hint := ""
	var h Hinter
	if errors.As(err, &h) {
		hint = h.Hint()
	}
	if hint == "" {
		hint = HintFor(c, err)
	}
	return &Problem{Class: c, Message: err.Error(), Hint: hint}
}

// ErrStalled is the cause of a transfer that made no progress for the idle timeout.
var ErrStalled = errors.New("transfer stalled: no data received within the idle timeout")

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
	msg := fmt.Sprintf("%s: %s", redact(e.URL), e.Status)
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

func (e *HTTPError) Class() Class {
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return ClassNotFound
	case http.StatusProxyAuthRequired:
		return ClassProxyAuth
	}
	return ClassHTTPStatus
}

// Classify maps an error to its stable class by inspecting the real error values, never by
// matching the text when a type says it.
func Classify(err error) Class {
	if err == nil {
		return ""
	}
	var c Classer
	if errors.As(err, &c) {
		return c.Class()
	}
	if errors.Is(err, ErrStalled) {
		return ClassStalled
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}

	// A failure talking to the proxy is the proxy's, whatever the underlying cause.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		if strings.Contains(op.Err.Error(), "Proxy Authentication Required") {
			return ClassProxyAuth
		}
		return ClassProxyConnect
	}
	if strings.Contains(err.Error(), "Proxy Authentication Required") {
		return ClassProxyAuth
	}

	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ClassDNS
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ClassTCPRefused
	}

	var unknownAuth x509.UnknownAuthorityError
	if errors.As(err, &unknownAuth) {
		return ClassTLSUnknownAuthority
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return ClassTLSHostname
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		if invalid.Reason == x509.Expired {
			if invalid.Cert != nil && time.Now().Before(invalid.Cert.NotBefore) {
				return ClassTLSNotYetValid
			}
			if strings.Contains(invalid.Detail, "is before") {
				return ClassTLSNotYetValid
			}
			return ClassTLSExpired
		}
		return ClassTLSUnknownAuthority
	}
	var sysRoots x509.SystemRootsError
	if errors.As(err, &sysRoots) {
		return ClassTLSUnknownAuthority
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) || errors.Is(err, http.ErrSchemeMismatch) {
		return ClassTLSPlaintext
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return ClassTLSProtocol
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return ClassTLSUnknownAuthority
	}
	if strings.Contains(err.Error(), "tls: ") {
		// crypto/tls reports local protocol failures (no shared version or cipher suite) as
		// plain errors with this prefix.
		if strings.Contains(err.Error(), "handshake timeout") {
			return ClassTCPTimeout
		}
		return ClassTLSProtocol
	}

	if isTimeout(err) {
		return ClassTCPTimeout
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EFBIG) {
		return ClassDisk
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) && (errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrExist)) {
		return ClassDisk
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return ClassHTTPStatus
	}
	var urlErr interface{ Timeout() bool }
	if errors.As(err, &urlErr) && urlErr.Timeout() {
		return ClassTCPTimeout
	}
	return ClassOther
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// HintFor is the remedy for a class: the next thing the user can run or change.
func HintFor(c Class, err error) string {
	switch c {
	case ClassDNS:
		return "the host name does not resolve: check DNS (/etc/resolv.conf, nslookup HOST), " +
			"pin an address for this run with --resolve HOST:443:ADDR, or switch source: " +
			"--mirror URL, a reachable GOPROXY, or --bundle PATH"
	case ClassTCPRefused:
		return "nothing accepts connections there: a firewall rejects the port or the server is down; " +
			"try another source (--mirror URL, GOPROXY) or set HTTPS_PROXY to your network's proxy"
	case ClassTCPTimeout:
		return "the connection never completed: a firewall is dropping the traffic; set HTTPS_PROXY " +
			"to your network's proxy, or use a reachable mirror or GOPROXY"
	case ClassTLSUnknownAuthority:
		return "the certificate is not signed by a CA this machine trusts (a TLS-inspecting proxy " +
			"or a private CA): pass its CA with --ca-file FILE (or GOSTRAP_CA_FILE), or add it to the " +
			"system store: " + TrustStoreCommand()
	case ClassTLSHostname:
		return "the certificate is for another host: check the URL, DNS or --resolve address; a " +
			"captive portal or hosts-file entry may be answering instead of the real server"
	case ClassTLSExpired:
		return "the server's certificate has expired, or this machine's clock is ahead: check `date -u` " +
			"and sync the clock (timedatectl set-ntp true); otherwise use another source"
	case ClassTLSNotYetValid:
		return "the certificate is not valid yet: this machine's clock is probably behind; check `date -u` " +
			"and sync the clock (timedatectl set-ntp true)"
	case ClassTLSProtocol:
		return "no TLS version or cipher in common (an old server or a middlebox); gostrap needs " +
			"TLS 1.2 or newer: use another source, or ask the server's owner to enable TLS 1.2"
	case ClassTLSPlaintext:
		return "the server answered plain HTTP on an https URL: use http:// for that source if you trust " +
			"the network, or fix the port; a proxy may be intercepting the connection"
	case ClassProxyAuth:
		return "the proxy demands credentials: put them in the proxy URL, e.g. " +
			"HTTPS_PROXY=http://USER:PASS@proxy:PORT"
	case ClassProxyConnect:
		return "the HTTP proxy could not be used: check HTTPS_PROXY/HTTP_PROXY (scheme http:// for an " +
			"ordinary proxy), that the proxy is up and allows CONNECT to port 443, and NO_PROXY"
	case ClassHTTPStatus:
		return "the server answered with an error; try again later or use another source (--mirror URL, GOPROXY)"
	case ClassNotFound:
		return "the source does not have it: check the version with `gostrap list --remote`, or use another source"
	case ClassStalled:
		return "the transfer stopped making progress: the network is dropping data; gostrap resumes " +
			"from the partial file when run again"
	case ClassChecksumMismatch:
		return "the bytes differ from what the trusted checksum says: the source is corrupt or tampered; " +
			"do not use it"
	case ClassSumDBSecurity:
		return "the checksum database disagrees: this may be an attack; see https://go.dev/ref/mod#checksum-database"
	case ClassUntrusted:
		return "nothing trustworthy vouches for these bytes: make an official index (--official URL) or the " +
			"checksum database (through GOPROXY) reachable, or install from a bundle; only if you accept the " +
			"risk, pass --insecure-trust-mirror"
	case ClassIndexRollback:
		return "the index is older than what this machine has installed before (a stale mirror, or someone " +
			"holding back updates): use another source, ask for the version explicitly, or pass --allow-downgrade"
	case ClassArchiveUnsafe:
		return "the archive tries to write outside its tree or holds links or devices: it was refused; " +
			"do not use this source"
	case ClassDisk:
		return "check free space (df -h) and permissions of the install and cache directories"
	case ClassCanceled:
		return ""
	}
	return ""
}

// TrustStoreCommand is how to add a CA to this OS family's trust store.
func TrustStoreCommand() string {
	switch runtime.GOOS {
	case "darwin":
		return "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain CA.pem"
	case "windows":
		return "certutil -addstore -f ROOT CA.cer"
	}
	return "Debian/Ubuntu: cp CA.pem /usr/local/share/ca-certificates/CA.crt && update-ca-certificates; " +
		"RHEL/Fedora: cp CA.pem /etc/pki/ca-trust/source/anchors/ && update-ca-trust; " +
		"macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain CA.pem"
}

// redact removes credentials from a URL before it is printed.
func redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	at := strings.IndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at >= 0 && (slash < 0 || at < slash) {
		return raw[:i+3] + "xxxxx@" + rest[at+1:]
	}
	return raw
}

// Redact is redact for other packages that print URLs.
func Redact(raw string) string { return redact(raw) }
