package download

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// noProxy is NO_PROXY read with the rules net/http applies (golang.org/x/net/http/httpproxy),
// keeping each entry as written so that a direct connection can name the entry that sent it
// direct:
//
//   - entries are separated by commas, trimmed and compared in lower case;
//   - "*" sends every host direct;
//   - an IP address or CIDR matches hosts given as an IP literal (never a name that resolves to
//     it), an address with a port only that port;
//   - "example.com" matches example.com and its subdomains, ".example.com" and "*.example.com"
//     only the subdomains; with a port ("example.com:8080") only that port;
//   - localhost and loopback addresses are always direct, whatever NO_PROXY says.
//
// Names are matched as written: httpproxy converts internationalised names to their ASCII form
// first, which gostrap leaves to the URL (go.dev and the mirrors have ASCII names).
type noProxy struct {
	// Var is the variable NO_PROXY came from (NO_PROXY or no_proxy).
	Var     string
	all     string // the "*" entry, when there is one
	ips     []ipEntry
	domains []domainEntry
}

type ipEntry struct {
	text   string
	prefix netip.Prefix // a single address is a full-length prefix
	port   string
}

type domainEntry struct {
	text      string
	suffix    string // with its leading dot
	port      string
	matchHost bool // "example.com" matches the host itself too
}

// noProxyFromEnv reads NO_PROXY, then no_proxy, as net/http does.
func noProxyFromEnv() *noProxy {
	for _, name := range []string{"NO_PROXY", "no_proxy"} {
		if v := os.Getenv(name); v != "" {
			n := parseNoProxy(v)
			n.Var = name
			return n
		}
	}
	return &noProxy{Var: "NO_PROXY"}
}

func parseNoProxy(v string) *noProxy {
	n := &noProxy{}
	for _, text := range strings.Split(v, ",") {
		p := strings.ToLower(strings.TrimSpace(text))
		if p == "" {
			continue
		}
		if p == "*" {
			n.all = p
			continue
		}
		if pfx, err := netip.ParsePrefix(p); err == nil {
			n.ips = append(n.ips, ipEntry{text: p, prefix: pfx.Masked()})
			continue
		}
		host, port, err := net.SplitHostPort(p)
		if err == nil {
			if host == "" {
				continue // no host part: malformed, ignored
			}
		} else {
			host = p
		}
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
			a = a.WithZone("")
			n.ips = append(n.ips, ipEntry{text: p, prefix: netip.PrefixFrom(a, a.BitLen()), port: port})
			continue
		}
		host = strings.TrimPrefix(host, "*")
		d := domainEntry{text: p, suffix: host, port: port}
		if !strings.HasPrefix(host, ".") {
			d.matchHost = true
			d.suffix = "." + host
		}
		if d.suffix == "." {
			continue
		}
		n.domains = append(n.domains, d)
	}
	return n
}

// match returns the entry that sends u direct. Localhost and loopback addresses, which are
// always direct, match as "localhost" and "loopback".
func (n *noProxy) match(u *url.URL) (string, bool) {
	host := strings.ToLower(strings.TrimSpace(u.Hostname()))
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080"}[u.Scheme]
	}
	if host == "localhost" {
		return "localhost", true
	}
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	if isIP {
		ip = ip.WithZone("").Unmap()
		if ip.IsLoopback() {
			return "loopback", true
		}
	}
	if n == nil {
		return "", false
	}
	if n.all != "" {
		return n.all, true
	}
	if isIP {
		for _, e := range n.ips {
			if e.prefix.Contains(ip) && (e.port == "" || e.port == port) {
				return e.text, true
			}
		}
		return "", false
	}
	for _, e := range n.domains {
		if (strings.HasSuffix(host, e.suffix) || e.matchHost && host == e.suffix[1:]) && (e.port == "" || e.port == port) {
			return e.text, true
		}
	}
	return "", false
}
