package testnet

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// SquidOptions configures StartSquid. The zero value is an open proxy.
type SquidOptions struct {
	// Addr is where squid listens. Zero: a fresh Middle host, port 3128.
	Addr netip.AddrPort
	// Users, when not empty, makes squid require basic proxy
	// authentication (basic_ncsa_auth) as one of these user → password.
	// Without credentials, or with wrong ones, squid answers 407.
	Users map[string]string
	// DenyConnectPorts: squid answers 403 to a CONNECT to these ports.
	DenyConnectPorts []int
	// DenyHosts: squid answers 403 to requests, CONNECT or not, for these
	// host names (squid dstdomain: ".example.test" includes subdomains).
	// Denials come before authentication, as in Debian's squid.conf.
	DenyHosts []string
	// SSLBump makes squid bump CONNECTs: it terminates TLS itself with a
	// certificate it makes for the host and signs with its CA (Squid.CA),
	// and talks TLS to the origin on its own.
	SSLBump bool
	// OriginCAs are the CAs squid trusts when it talks TLS to origins in
	// SSLBump mode. None: the system's, which trust no test origin.
	OriginCAs []*CA
	// Config is more squid.conf text, placed before the http_access
	// rules.
	Config string
}

// Squid is a squid that StartSquid started.
type Squid struct {
	Addr netip.AddrPort
	// CA signs what squid presents to clients in SSLBump mode; clients
	// trust it through CA.CertFile. Nil otherwise.
	CA        *CA
	Dir       string // configuration, logs, pid file, ssl_db
	AccessLog string
	CacheLog  string
}

// URL is the proxy URL without credentials: http://10.213.N.130:3128.
func (s *Squid) URL() string { return "http://" + s.Addr.String() }

// AuthURL is the proxy URL with credentials, percent-encoded as a user
// would write them in HTTPS_PROXY: p@ss#1 becomes p%40ss%231.
func (s *Squid) AuthURL(user, password string) string {
	u := url.URL{Scheme: "http", User: url.UserPassword(user, password), Host: s.Addr.String()}
	return u.String()
}

// AccessLogLines returns squid's access log so far, one request a line
// ("... TCP_TUNNEL/200 ... CONNECT host:443 ..."). Squid writes a line when
// a request ends.
func (s *Squid) AccessLogLines(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(s.AccessLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

const squidPort = 3128

// StartSquid starts squid with a configuration of its own, its files in a
// temporary directory, and waits until it accepts connections; it is
// stopped at cleanup. Squid runs in the namespace of its address, and
// resolves names with that namespace's /etc/hosts and /etc/resolv.conf as
// they are when it starts: call SetHosts or SetResolver before.
//
// Squid drops root for the "proxy" user, so its directory is given to that
// user, and the temporary directories above it made searchable (o+x).
func (n *Net) StartSquid(t testing.TB, opts SquidOptions) *Squid {
	t.Helper()
	Need(t, "squid")
	if len(opts.Users) > 0 {
		Need(t, "basic_ncsa_auth")
	}
	if opts.SSLBump {
		Need(t, "security_file_certgen")
	}
	r := n.roleFor(t, opts.Addr, Middle)
	addr := n.hostPort(t, r, opts.Addr, squidPort)
	dir := t.TempDir()
	s := &Squid{
		Addr:      addr,
		Dir:       dir,
		AccessLog: filepath.Join(dir, "access.log"),
		CacheLog:  filepath.Join(dir, "cache.log"),
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(file(name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	owner, err := squidUser()
	if err != nil {
		t.Fatalf("testnet: squid: %v", err)
	}

	var c strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&c, format+"\n", args...) }
	line("# written by gostrap's internal/testnet for one test")
	port := addr.String()
	if opts.SSLBump {
		s.CA = NewCA(t, "gostrap testnet squid bump CA")
		port += fmt.Sprintf(" ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s tls-key=%s",
			file("bump-ca.pem"), file("bump-ca.key"))
		for _, f := range []struct{ from, to string }{{s.CA.CertFile, "bump-ca.pem"}, {s.CA.KeyFile, "bump-ca.key"}} {
			b, err := os.ReadFile(f.from)
			if err != nil {
				t.Fatal(err)
			}
			write(f.to, string(b))
		}
	}
	line("http_port %s", port)
	line("cache_effective_user %s", owner.Username)
	line("pid_filename %s", file("squid.pid"))
	line("cache_log %s", s.CacheLog)
	line("access_log stdio:%s", s.AccessLog)
	line("cache_store_log none")
	line("logfile_rotate 0")
	line("coredump_dir %s", dir)
	// Fast start and stop, and nothing of its own on the network.
	line("cache deny all")
	line("cache_mem 8 MB")
	line("shutdown_lifetime 0 seconds")
	line("pinger_enable off")
	line("digest_generation off")
	line("netdb_filename none")
	line("icp_port 0")
	line("htcp_port 0")
	line("max_filedescriptors 1024")
	line("visible_hostname gst-squid.test")
	line("negative_dns_ttl 1 second")
	if opts.SSLBump {
		line("sslcrtd_program %s -s %s -M 4MB", path("security_file_certgen"), file("ssl_db"))
		line("sslcrtd_children 2 startup=1 idle=1")
		if len(opts.OriginCAs) > 0 {
			var pems []string
			for _, ca := range opts.OriginCAs {
				b, err := os.ReadFile(ca.CertFile)
				if err != nil {
					t.Fatal(err)
				}
				pems = append(pems, string(b))
			}
			write("origin-cas.pem", strings.Join(pems, ""))
			line("tls_outgoing_options cafile=%s", file("origin-cas.pem"))
		}
		line("acl step1 at_step SslBump1")
		line("ssl_bump peek step1")
		line("ssl_bump bump all")
	}
	line("acl CONNECT method CONNECT")
	if len(opts.DenyConnectPorts) > 0 {
		var ports []string
		for _, p := range opts.DenyConnectPorts {
			ports = append(ports, strconv.Itoa(p))
		}
		line("acl deny_ports port %s", strings.Join(ports, " "))
		line("http_access deny CONNECT deny_ports")
	}
	if len(opts.DenyHosts) > 0 {
		line("acl deny_hosts dstdomain -n %s", strings.Join(opts.DenyHosts, " "))
		line("http_access deny deny_hosts")
	}
	if len(opts.Users) > 0 {
		var htpasswd strings.Builder
		for _, u := range slices.Sorted(maps.Keys(opts.Users)) {
			if u == "" || strings.ContainsAny(u, ": \n") {
				t.Fatalf("testnet: squid: bad user name %q", u)
			}
			// basic_ncsa_auth takes an MD5 hex digest as well as crypt(3).
			sum := md5.Sum([]byte(opts.Users[u]))
			fmt.Fprintf(&htpasswd, "%s:%s\n", u, hex.EncodeToString(sum[:]))
		}
		write("htpasswd", htpasswd.String())
		line("auth_param basic program %s %s", path("basic_ncsa_auth"), file("htpasswd"))
		line("auth_param basic children 2 startup=1 idle=1")
		line("auth_param basic realm gostrap testnet")
		line("acl authed proxy_auth REQUIRED")
	}
	if opts.Config != "" {
		line("%s", opts.Config)
	}
	if len(opts.Users) > 0 {
		line("http_access allow authed")
		line("http_access deny all")
	} else {
		line("http_access allow all")
	}
	write("squid.conf", c.String())

	if opts.SSLBump {
		out, err := exec.Command(path("security_file_certgen"), "-c", "-s", file("ssl_db"), "-M", "4MB").CombinedOutput()
		if err != nil {
			t.Fatalf("testnet: squid: initialising ssl_db: %v: %s", err, out)
		}
	}
	if err := giveTo(dir, owner); err != nil {
		t.Fatalf("testnet: squid: %v", err)
	}
	d := n.startDaemon(t, r, file("squid.out"), []string{s.CacheLog}, path("squid"), "-N", "-f", file("squid.conf"))
	d.waitReady(t, n.tcpReady(r, addr))
	return s
}

// squidUser is the user squid drops root for.
func squidUser() (*user.User, error) {
	u, err := user.Lookup("proxy")
	if err != nil {
		u, err = user.Lookup("nobody")
	}
	return u, err
}

// giveTo gives dir and what it holds to u, and lets u reach dir: the
// temporary directories above it that lack o+x get it (their files stay
// unreadable to others).
func giveTo(dir string, u *user.User) error {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return err
	}
	tmp := filepath.Clean(os.TempDir())
	for p := filepath.Dir(dir); strings.HasPrefix(p, tmp+string(filepath.Separator)); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return err
			}
		}
	}
	return nil
}
