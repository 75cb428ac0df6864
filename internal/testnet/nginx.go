package testnet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NginxOptions configures StartNginx.
type NginxOptions struct {
	// Host is the address nginx listens on. Zero: a fresh Origin host.
	Host netip.Addr
	// HTTPPort is where it serves plain HTTP: 0 means 80.
	HTTPPort uint16
	// HTTPSOnly: no plain HTTP (Cert is then required).
	HTTPSOnly bool
	// Cert, if set, makes nginx also serve HTTPS with it, on HTTPSPort (0
	// means 443). Good, self-signed, expired or for another host: see CA
	// and SelfSigned.
	Cert      *Cert
	HTTPSPort uint16
	// Root is the directory served. Empty: an empty temporary directory.
	Root string
	// Server is more text for the server block, after root: location
	// blocks, autoindex, ... For instance
	//
	//	location = /go/ { if ($arg_mode = json) { rewrite ^ /go/index.json? last; } }
	Server string
}

// Nginx is an nginx that StartNginx started.
type Nginx struct {
	Host     netip.Addr
	HTTP     netip.AddrPort // zero with HTTPSOnly
	HTTPS    netip.AddrPort // zero without a Cert
	Root     string
	Dir      string // prefix: configuration, logs, temporary files
	ErrorLog string
	// AccessLog has a line per request, with the Host header last.
	AccessLog string
}

// HTTPURL is http://host[:port] with path appended.
func (x *Nginx) HTTPURL(path string) string { return urlOf("http", x.HTTP, 80) + path }

// HTTPSURL is https://host[:port] with path appended.
func (x *Nginx) HTTPSURL(path string) string { return urlOf("https", x.HTTPS, 443) + path }

func urlOf(scheme string, a netip.AddrPort, def uint16) string {
	if a.Port() == def {
		return scheme + "://" + a.Addr().String()
	}
	return scheme + "://" + a.String()
}

// StartNginx starts nginx in the namespace of its address with a
// configuration of its own (a single process, as root, its prefix in a
// temporary directory) and waits until it accepts connections; it is
// stopped at cleanup. nginx answers for any Host header.
func (n *Net) StartNginx(t testing.TB, opts NginxOptions) *Nginx {
	t.Helper()
	Need(t, "nginx")
	if opts.HTTPSOnly && opts.Cert == nil {
		t.Fatal("testnet: nginx: HTTPSOnly without a Cert")
	}
	r := n.roleFor(t, netip.AddrPortFrom(opts.Host, 0), Origin)
	dir := t.TempDir()
	x := &Nginx{
		Host:      n.hostPort(t, r, netip.AddrPortFrom(opts.Host, 0), 0).Addr(),
		Root:      opts.Root,
		Dir:       dir,
		ErrorLog:  filepath.Join(dir, "error.log"),
		AccessLog: filepath.Join(dir, "access.log"),
	}
	var listen []netip.AddrPort
	if !opts.HTTPSOnly {
		x.HTTP = n.hostPort(t, r, netip.AddrPortFrom(x.Host, opts.HTTPPort), 80)
		listen = append(listen, x.HTTP)
	}
	if opts.Cert != nil {
		x.HTTPS = n.hostPort(t, r, netip.AddrPortFrom(x.Host, opts.HTTPSPort), 443)
		listen = append(listen, x.HTTPS)
	}
	if x.Root == "" {
		x.Root = t.TempDir()
	}
	if abs, err := filepath.Abs(x.Root); err != nil {
		t.Fatal(err)
	} else {
		x.Root = abs
	}
	var c strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&c, format+"\n", args...) }
	line("# written by gostrap's internal/testnet for one test")
	line("daemon off;")
	line("master_process off;")
	line("worker_processes 1;")
	line("pid %s;", filepath.Join(dir, "nginx.pid"))
	line("error_log %s info;", x.ErrorLog)
	line("events { worker_connections 256; }")
	line("http {")
	line("  types { text/html html; text/plain txt; application/json json; application/gzip gz tgz; application/zip zip; }")
	line("  default_type application/octet-stream;")
	line("  log_format testnet '$remote_addr \"$request\" $status $body_bytes_sent \"$http_host\"';")
	line("  access_log %s testnet;", x.AccessLog)
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		line("  %s_temp_path %s;", tmp, filepath.Join(dir, "tmp-"+tmp))
	}
	line("  server {")
	if x.HTTP.IsValid() {
		line("    listen %s;", x.HTTP)
	}
	if opts.Cert != nil {
		line("    listen %s ssl;", x.HTTPS)
		line("    ssl_certificate %s;", opts.Cert.CertFile)
		line("    ssl_certificate_key %s;", opts.Cert.KeyFile)
	}
	line("    server_name _;")
	line("    root %s;", x.Root)
	if opts.Server != "" {
		line("%s", opts.Server)
	}
	line("  }")
	line("}")
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := n.startDaemon(t, r, filepath.Join(dir, "nginx.out"), []string{x.ErrorLog}, path("nginx"),
		"-p", dir+"/", "-c", conf, "-e", x.ErrorLog)
	for _, a := range listen {
		d.waitReady(t, n.tcpReady(r, a))
	}
	return x
}
