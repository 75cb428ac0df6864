package failure

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
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Class is a stable identifier for why an operation failed. The values are part of the CLI
// contract (docs/design.md, "Error classes"): scripts branch on them, so they never change.
type Class string

const (
	DNS                 Class = "dns"
	TCPRefused          Class = "tcp-refused"
	TCPTimeout          Class = "tcp-timeout"
	TLSUnknownAuthority Class = "tls-unknown-authority"
	TLSHostname         Class = "tls-hostname"
	TLSExpired          Class = "tls-expired"
	TLSNotYetValid      Class = "tls-not-yet-valid"
	TLSProtocol         Class = "tls-protocol"
	TLSPlaintext        Class = "tls-plaintext"
	ProxyAuth           Class = "proxy-auth"
	ProxyConnect        Class = "proxy-connect"
	HTTPStatus          Class = "http-status"
	NotFound            Class = "not-found"
	Stalled             Class = "stalled"
	ChecksumMismatch    Class = "checksum-mismatch"
	SumDBSecurity       Class = "sumdb-security"
	ArchiveUnsafe       Class = "archive-unsafe"
	Disk                Class = "disk"
	Canceled            Class = "canceled"
	// Untrusted is bytes that nothing trustworthy vouches for: a mirror's download with
	// neither an official index nor the checksum database reachable. An addition to the
	// contract's list.
	Untrusted Class = "untrusted"
	// IndexRollback is an index whose newest release is older than one this machine has
	// already installed: a stale mirror or a freeze attack. An addition to the contract's list.
	IndexRollback Class = "index-rollback"
	// DNSTimeout is a resolver that gave no answer within the DNS budget: silent, blocked or
	// very slow, which says nothing about the name (dns is a name the resolver says does not
	// exist, or another lookup failure). An addition to the contract's list.
	DNSTimeout Class = "dns-timeout"
	// Other is for failures none of the stable classes describe (a bug, a malformed index).
	Other Class = "other"
)

// Verification reports whether failures of this class mean the bytes could not be trusted
// (exit 4) rather than that they could not be fetched (exit 3).
func (c Class) Verification() bool {
	switch c {
	case ChecksumMismatch, SumDBSecurity, ArchiveUnsafe, Untrusted, IndexRollback:
		return true
	}
	return false
}

// Unreachable reports whether the class means a source could not serve the request: the
// network, TLS, a proxy, or the server said no. These failures make a source fall through to
// the next one and, when every source fails this way, exit 3.
func (c Class) Unreachable() bool {
	switch c {
	case DNS, DNSTimeout, TCPRefused, TCPTimeout, TLSUnknownAuthority, TLSHostname, TLSExpired, TLSNotYetValid,
		TLSProtocol, TLSPlaintext, ProxyAuth, ProxyConnect, HTTPStatus, NotFound, Stalled:
		return true
	}
	return false
}

// Classer is implemented by errors that know their own class.
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

// Explain classifies err and attaches the remedy for its class. The message and hint are
// redacted: they are meant to be printed.
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
		hint = HintFor(c)
	}
	return &Problem{Class: c, Message: Redact(err.Error()), Hint: Redact(hint)}
}

// ErrStalled is the cause of a transfer that made no progress for the idle timeout.
var ErrStalled = errors.New("transfer stalled: no data received within the idle timeout")

// HandshakeError is a failure during a TLS handshake, as the HTTP client's trace saw it. Its
// class is the certificate's when a certificate was refused, else tls-protocol: versions,
// ciphers or a middlebox that broke the handshake. It is never retried.
//
// Its message names what the refused certificate showed (the issuer of a chain nothing here
// trusts, the host names, the validity), and its hint the remedy for that certificate: the
// clock is blamed only when the server's Date disagrees with this machine's (ClockKnown).
type HandshakeError struct {
	Host string
	Err  error
	// ClockSkew is the server's Date minus this machine's clock, when ClockKnown.
	ClockSkew  time.Duration
	ClockKnown bool
}

func (e *HandshakeError) Error() string {
	msg := fmt.Sprintf("TLS handshake with %s: %v", e.Host, e.Err)
	chain := e.chain()
	if len(chain) == 0 {
		return msg
	}
	leaf := chain[0]
	switch classifyCert(e.Err) {
	case TLSUnknownAuthority:
		msg += fmt.Sprintf(" (certificate for %s issued by %q)", certNames(leaf), Issuer(chain))
	case TLSHostname:
		msg += fmt.Sprintf(" (the certificate is for %s)", certNames(leaf))
	case TLSExpired:
		msg += fmt.Sprintf(" (expired %s; this machine's clock reads %s)", leaf.NotAfter.UTC().Format(time.DateTime+" UTC"),
			time.Now().UTC().Format(time.DateTime+" UTC"))
	case TLSNotYetValid:
		msg += fmt.Sprintf(" (valid from %s; this machine's clock reads %s)", leaf.NotBefore.UTC().Format(time.DateTime+" UTC"),
			time.Now().UTC().Format(time.DateTime+" UTC"))
	}
	return msg
}
func (e *HandshakeError) Unwrap() error { return e.Err }

// chain is the certificates the server sent, when verification refused them.
func (e *HandshakeError) chain() []*x509.Certificate {
	var ve *tls.CertificateVerificationError
	if errors.As(e.Err, &ve) && len(ve.UnverifiedCertificates) > 0 {
		return ve.UnverifiedCertificates
	}
	var ua x509.UnknownAuthorityError
	if errors.As(e.Err, &ua) && ua.Cert != nil {
		return []*x509.Certificate{ua.Cert}
	}
	var ci x509.CertificateInvalidError
	if errors.As(e.Err, &ci) && ci.Cert != nil {
		return []*x509.Certificate{ci.Cert}
	}
	var he x509.HostnameError
	if errors.As(e.Err, &he) && he.Certificate != nil {
		return []*x509.Certificate{he.Certificate}
	}
	return nil
}

// Hint is the remedy for the certificate the handshake refused.
func (e *HandshakeError) Hint() string {
	chain := e.chain()
	class := Classify(e)
	host := e.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if len(chain) == 0 {
		return HintFor(class)
	}
	leaf := chain[0]
	skewed := e.ClockKnown && (e.ClockSkew > 5*time.Minute || e.ClockSkew < -5*time.Minute)
	switch class {
	case TLSUnknownAuthority:
		return fmt.Sprintf("the certificate of %s was issued by %q, which this machine does not trust: a TLS-inspecting "+
			"proxy (corporate firewall, antivirus) or a private CA signs the traffic; pass that CA with --ca-file FILE "+
			"(or GOSTRAP_CA_FILE), or add it to the system store: %s", host, Issuer(chain), TrustStoreCommand())
	case TLSHostname:
		return fmt.Sprintf("the certificate %s presented is for %s, not %s: check the URL, DNS or the --resolve address; "+
			"a captive portal, a hosts-file entry or a poisoned resolver may be answering instead of the real server",
			host, certNames(leaf), host)
	case TLSExpired, TLSNotYetValid:
		if skewed {
			return ClockHint(e.ClockSkew, class)
		}
		when, what := "expired on "+leaf.NotAfter.UTC().Format(time.DateTime+" UTC"), "has expired"
		if class == TLSNotYetValid {
			when, what = "is valid only from "+leaf.NotBefore.UTC().Format(time.DateTime+" UTC"), "is not valid yet"
		}
		if e.ClockKnown {
			return fmt.Sprintf("the certificate of %s %s, and the server's clock agrees with this machine's: the "+
				"certificate itself %s; its owner must replace it; use another source meanwhile", host, when, what)
		}
		return fmt.Sprintf("the certificate of %s %s: its owner must replace it; use another source meanwhile", host, when)
	}
	return HintFor(class)
}

// ClockHint is the remedy when this machine's clock is skew away from a server's (the server's
// Date minus ours) and a certificate only looks expired or not yet valid because of it.
func ClockHint(skew time.Duration, class Class) string {
	d, where := skew, "behind"
	if d < 0 {
		d, where = -d, "ahead of"
	}
	return fmt.Sprintf("this machine's clock is %s %s the server's (its Date header): the certificate only looks %s. "+
		"Fix the clock (%s), then retry", d.Round(time.Second), where, strings.TrimPrefix(string(class), "tls-"), clockCommand(runtime.GOOS))
}

// Issuer names the issuer of the top of a chain: its common name, or the whole name.
func Issuer(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	top := chain[len(chain)-1]
	if top.Issuer.CommonName != "" {
		return top.Issuer.CommonName
	}
	return top.Issuer.String()
}

// certNames lists the names a certificate is for.
func certNames(c *x509.Certificate) string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}

// Classify maps an error to its stable class by inspecting the error values.
func Classify(err error) Class {
	if err == nil {
		return ""
	}
	// A failure to reach the proxy is the proxy's, whatever the underlying cause (its name not
	// resolving, its port refusing), unless an error outside it knows better.
	var c Classer
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		for e := err; e != nil && e != error(op); e = errors.Unwrap(e) {
			if c, ok := e.(Classer); ok {
				return c.Class()
			}
		}
		if errors.As(op.Err, &c) && c.Class() == ProxyAuth {
			return ProxyAuth // the proxy's own refusal, however it is wrapped
		}
		return ProxyConnect
	}
	if errors.As(err, &c) {
		return c.Class()
	}
	if errors.Is(err, ErrStalled) {
		return Stalled
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if c := classifyTLS(err); c != "" {
		return c
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout {
			return DNSTimeout
		}
		return DNS
	}
	if isConnRefused(err) || isUnreachable(err) {
		return TCPRefused
	}
	if isTimeout(err) {
		return TCPTimeout
	}
	if isDiskFull(err) || isInUse(err) {
		return Disk
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) && (errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrExist)) {
		return Disk
	}
	if isConnReset(err) {
		return HTTPStatus
	}
	return Other
}

// classifyTLS returns the class of a certificate or TLS protocol failure, or "".
func classifyTLS(err error) Class {
	if c := classifyCert(err); c != "" {
		return c
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) || errors.Is(err, http.ErrSchemeMismatch) {
		return TLSPlaintext
	}
	var hs *HandshakeError
	if errors.As(err, &hs) {
		if isTimeout(hs.Err) {
			return TCPTimeout
		}
		return TLSProtocol
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return TLSProtocol
	}
	if IsTLSRecordError(err) {
		return TLSProtocol
	}
	return ""
}

// classifyCert returns the class of a certificate failure, or "".
func classifyCert(err error) Class {
	var unknownAuth x509.UnknownAuthorityError
	if errors.As(err, &unknownAuth) {
		return TLSUnknownAuthority
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return TLSHostname
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		if invalid.Reason == x509.Expired {
			if invalid.Cert != nil && time.Now().Before(invalid.Cert.NotBefore) {
				return TLSNotYetValid
			}
			return TLSExpired
		}
		return TLSUnknownAuthority
	}
	var sysRoots x509.SystemRootsError
	if errors.As(err, &sysRoots) {
		return TLSUnknownAuthority
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return TLSUnknownAuthority
	}
	return ""
}

// IsTLSRecordError reports whether err is a TLS record-layer failure on an established
// connection (a bad record MAC, an alert from the peer): crypto/tls reports them as
// net.OpErrors whose Op is "local error" or "remote error".
func IsTLSRecordError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "local error" || op.Op == "remote error")
}

// is reports whether err is one of codes (windows.Errno is syscall.Errno: one helper serves
// both systems' codes).
func is(err error, codes ...syscall.Errno) bool {
	for _, c := range codes {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeoutErrno(err) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// HintFor is the remedy for a class: the next thing the user can run or change, in the
// commands of this operating system.
func HintFor(c Class) string { return hintFor(c, runtime.GOOS) }

func hintFor(c Class, goos string) string {
	switch c {
	case DNS:
		return "the host name does not resolve: check DNS (" + resolverConfig(goos) + ", nslookup HOST), " +
			"pin an address for this run with --resolve HOST:443:ADDR, or switch source: " +
			"--mirror URL, a reachable GOPROXY, or --bundle PATH"
	case DNSTimeout:
		return "the resolver gave no answer: it is down, blocked or very slow (check " + resolverConfig(goos) +
			"); give it longer with --dns-timeout, pin an address for this run with --resolve HOST:443:ADDR, " +
			"or switch source: --mirror URL, a reachable GOPROXY, or --bundle PATH"
	case TCPRefused:
		return "nothing accepts connections there: a firewall rejects the port, the server is down, or DNS " +
			"gave a wrong address (pin the right one with --resolve HOST:PORT:ADDR); try another source " +
			"(--mirror URL, GOPROXY), or set HTTPS_PROXY if this network only lets a proxy out"
	case TCPTimeout:
		return "the connection never completed: a firewall is dropping the traffic; set HTTPS_PROXY " +
			"to your network's proxy, or use a reachable mirror or GOPROXY"
	case TLSUnknownAuthority:
		return "the certificate is not signed by a CA this machine trusts (a TLS-inspecting proxy " +
			"or a private CA): pass its CA with --ca-file FILE (or GOSTRAP_CA_FILE), or add it to the " +
			"system store: " + trustStoreCommand(goos)
	case TLSHostname:
		return "the certificate is for another host: check the URL, DNS or --resolve address; a " +
			"captive portal or hosts-file entry may be answering instead of the real server"
	case TLSExpired:
		return "the server's certificate has expired: its owner must renew it; use another source meanwhile " +
			"(gostrap doctor compares this machine's clock with the server's)"
	case TLSNotYetValid:
		return "the certificate is not valid yet: this machine's clock is probably behind; check and sync " +
			"the clock (" + clockCommand(goos) + ")"
	case TLSProtocol:
		return "the TLS handshake failed: no TLS version or cipher in common (an old server) or a middlebox " +
			"interfered; gostrap needs TLS 1.2 or newer: use another source, or ask the server's owner to enable TLS 1.2"
	case TLSPlaintext:
		return "the server answered plain HTTP on an https URL: use http:// for that source if you trust " +
			"the network, or fix the port; a proxy may be intercepting the connection"
	case ProxyAuth:
		return "the proxy demands credentials: put them in the proxy URL, e.g. " +
			"HTTPS_PROXY=http://USER:PASS@proxy:PORT (percent-encode @, # and : in the password)"
	case ProxyConnect:
		return "the HTTP proxy could not be used: check HTTPS_PROXY/HTTP_PROXY (scheme http:// for an " +
			"ordinary proxy), that the proxy is up, and NO_PROXY"
	case HTTPStatus:
		return "the server answered with an error; try again later or use another source (--mirror URL, GOPROXY)"
	case NotFound:
		return "the source does not have it: check the version with `gostrap list --remote`, or use another source"
	case Stalled:
		return "the transfer stopped making progress: the network is dropping data; gostrap resumes " +
			"from the partial file when run again"
	case ChecksumMismatch:
		return "the bytes differ from what the trusted checksum says: the source is corrupt or tampered; " +
			"do not use it"
	case SumDBSecurity:
		return "the checksum database disagrees: this may be an attack; see https://go.dev/ref/mod#checksum-database"
	case Untrusted:
		return "nothing trustworthy vouches for these bytes: make an official index (--official URL) or the " +
			"checksum database (through GOPROXY) reachable, or install from a bundle; only if you accept the " +
			"risk, pass --insecure-trust-mirror"
	case IndexRollback:
		return "the index is older than what this machine has installed before (a stale mirror, or someone " +
			"holding back updates): use another source, ask for the version explicitly, or pass --allow-downgrade"
	case ArchiveUnsafe:
		return "the archive tries to write outside its tree or holds links or devices: it was refused; " +
			"do not use this source"
	case Disk:
		return "check free space and permissions of the install and cache directories (" + freeSpaceCommand(goos) + ")"
	}
	return ""
}

// TrustStoreCommand is how to add a CA to this OS family's trust store.
func TrustStoreCommand() string { return trustStoreCommand(runtime.GOOS) }

func trustStoreCommand(goos string) string {
	switch goos {
	case "darwin":
		return "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain CA.pem"
	case "windows":
		// The user's own store needs no administrator; Go reads it with the machine's.
		return "certutil -user -addstore Root CA.cer (for this user; as administrator without -user, for the machine)"
	}
	return "Debian/Ubuntu: cp CA.pem /usr/local/share/ca-certificates/CA.crt && update-ca-certificates; " +
		"RHEL/Fedora: cp CA.pem /etc/pki/ca-trust/source/anchors/ && update-ca-trust"
}

func resolverConfig(goos string) string {
	if goos == "windows" {
		return "ipconfig /all shows the DNS servers"
	}
	return "/etc/resolv.conf"
}

func clockCommand(goos string) string {
	switch goos {
	case "windows":
		return "w32tm /resync as administrator, or Settings > Time & language > Sync now"
	case "darwin":
		return "sudo sntp -sS time.apple.com"
	}
	return "date -u; timedatectl set-ntp true"
}

func freeSpaceCommand(goos string) string {
	if goos == "windows" {
		return "dir shows the bytes free; in PowerShell, Get-PSDrive"
	}
	return "df -h"
}

// CertFileNote is what doctor adds after SSL_CERT_FILE's value: Go reads that variable only
// where it reads PEM files for its roots, never on Windows or macOS.
func CertFileNote() string { return certFileNote(runtime.GOOS) }

func certFileNote(goos string) string {
	switch goos {
	case "windows":
		return " (ignored on Windows: Go uses the Windows certificate store; pass --ca-file)"
	case "darwin", "ios":
		return " (ignored on macOS: Go asks the system to verify; pass --ca-file)"
	}
	return ""
}

// DiskError is a failure writing or reading a local file. It ends an install: another source
// would fail the same way.
type DiskError struct {
	Op, Path string
	Err      error
}

func (e *DiskError) Error() string {
	err := e.Err
	var pe *fs.PathError
	if errors.As(err, &pe) && (pe.Path == e.Path || strings.HasSuffix(e.Path, pe.Path)) {
		err = pe.Err // the path is already said
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Path, err)
}
func (e *DiskError) Unwrap() error { return e.Err }
func (e *DiskError) Class() Class  { return Disk }

func (e *DiskError) Hint() string {
	switch {
	case isInUse(e.Err):
		return "a program is using files there (a running go or gopls, an editor, a virus scan): close it and run the command again"
	case isAccessDenied(e.Err):
		return "Windows refused: a program may be using files there (a running go or gopls, an editor, a virus scan): " +
			"close it and run the command again; or no permission to write there: choose a directory you own (--dir, GOSTRAP_CACHE)"
	case errors.Is(e.Err, fs.ErrPermission):
		return "no permission to write there: choose a directory you own (--dir, GOSTRAP_CACHE) or fix its permissions"
	case isNotDir(e.Err):
		return "a file stands where a directory is needed: check --dir and GOSTRAP_CACHE"
	case isDiskFull(e.Err):
		return "the disk is full: free space (" + freeSpaceCommand(runtime.GOOS) + ") or choose another --dir / GOSTRAP_CACHE"
	}
	return HintFor(Disk)
}

// userinfo matches the user information of a URL anywhere in a text: from the scheme to the
// last @ before the host, without crossing a slash or white space.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]*(?:@[^/\s@]*)*@`)

// Redact removes the user information (a password, a token) of every URL in s. The
// placeholder USER:PASS of gostrap's own hints is left as it is.
func Redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfo.ReplaceAllStringFunc(s, func(m string) string {
		scheme, info, _ := strings.Cut(m, "://")
		if info == placeholder+"@" {
			return m
		}
		return scheme + "://xxxxx@"
	})
}

// RedactProxy is Redact for the value of a proxy variable, which may leave out its scheme as
// net/http allows: user:pass@proxy:3128 means http://user:pass@proxy:3128.
func RedactProxy(v string) string {
	if strings.Contains(v, "://") {
		return Redact(v)
	}
	return strings.TrimPrefix(Redact("http://"+v), "http://")
}

// placeholder is the user information of the examples in hints.
const placeholder = "USER:PASS"
