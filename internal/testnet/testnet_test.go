package testnet_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// fetchResult is what the fetch program prints.
type fetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Issuer string `json:"issuer"` // of the certificate the server presented
	Err    string `json:"err"`
}

// fetch GETs a URL with a transport configured as gostrap's are: proxy
// from the environment (HTTP_PROXY, HTTPS_PROXY), system roots or -ca.
var fetch = testnet.Register("fetch", func(args []string) int {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	caFile := fs.String("ca", "", "trust only the CAs in this PEM file")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return 2
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{}}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tr.TLSClientConfig.RootCAs = x509.NewCertPool()
		tr.TLSClientConfig.RootCAs.AppendCertsFromPEM(pem)
	}
	c := &http.Client{Transport: tr, Timeout: *timeout}
	var res fetchResult
	resp, err := c.Get(fs.Arg(0))
	if err != nil {
		res.Err = err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		res.Status, res.Body = resp.StatusCode, string(b)
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			res.Issuer = resp.TLS.PeerCertificates[0].Issuer.CommonName
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
})

// resolveResult is what the resolve program prints.
type resolveResult struct {
	Addrs    []string      `json:"addrs"`
	Err      string        `json:"err"`
	NotFound bool          `json:"notFound"`
	Timeout  bool          `json:"timeout"`
	Elapsed  time.Duration `json:"elapsed"`
}

// resolve looks a name up with the default resolver, as gostrap does.
var resolve = testnet.Register("resolve", func(args []string) int {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 20*time.Second, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var res resolveResult
	start := time.Now()
	addrs, err := net.DefaultResolver.LookupHost(ctx, fs.Arg(0))
	res.Elapsed = time.Since(start)
	res.Addrs = addrs
	if err != nil {
		res.Err = err.Error()
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			res.NotFound, res.Timeout = dnsErr.IsNotFound, dnsErr.IsTimeout
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
})

// runProgram runs p in r with extra environment and decodes its JSON.
func runProgram(t *testing.T, n *testnet.Net, r testnet.Role, env []string, res any, p testnet.Program, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := n.ProgramCommandContext(ctx, r, p, args...)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	if err := json.Unmarshal(out, res); err != nil {
		t.Fatalf("%v: %v: %q", cmd.Args, err, out)
	}
}

func get(t *testing.T, n *testnet.Net, proxy string, url string, args ...string) fetchResult {
	t.Helper()
	var env []string
	if proxy != "" {
		env = []string{"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy}
	}
	var res fetchResult
	runProgram(t, n, testnet.Client, env, &res, fetch, append(args, url)...)
	return res
}

func lookup(t *testing.T, n *testnet.Net, name string) resolveResult {
	t.Helper()
	var res resolveResult
	runProgram(t, n, testnet.Client, []string{"GODEBUG=netdns=go"}, &res, resolve, name)
	return res
}

// tree makes a directory for nginx to serve.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestOpenProxy: the client reaches an nginx in the origin namespace
// through an open squid, and not directly.
func TestOpenProxy(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	web := n.StartNginx(t, testnet.NginxOptions{Root: tree(t, map[string]string{"hello.txt": "hello from origin\n"})})
	squid := n.StartSquid(t, testnet.SquidOptions{})

	url := web.HTTPURL("/hello.txt")
	if res := get(t, n, "", url, "-timeout=2s"); !strings.Contains(res.Err, "no route to host") {
		t.Errorf("direct GET %s: %+v, want no route to host", url, res)
	}
	res := get(t, n, squid.URL(), url)
	if res.Status != 200 || res.Body != "hello from origin\n" {
		t.Fatalf("GET %s through squid: %+v", url, res)
	}
	if log := strings.Join(squid.AccessLogLines(t), "\n"); !strings.Contains(log, url) {
		t.Errorf("squid's access log does not show %s:\n%s", url, log)
	}

	// The same from the test process, with a transport that dials from the
	// client namespace.
	proxy, _ := neturl.Parse(squid.URL())
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxy),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return n.DialContext(ctx, testnet.Client, network, addr)
		},
	}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("in-process GET through squid: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello from origin\n" {
		t.Errorf("in-process GET through squid: %s %q", resp.Status, b)
	}
}

// TestDirect: SetDirect decides whether the client reaches the origin on
// its own; the proxy reaches it whatever the client may do.
func TestDirect(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	web := n.StartNginx(t, testnet.NginxOptions{Root: tree(t, map[string]string{"f": "x"})})
	squid := n.StartSquid(t, testnet.SquidOptions{})
	url := web.HTTPURL("/f")

	n.SetDirect(t, testnet.DirectAllow)
	if res := get(t, n, "", url); res.Status != 200 {
		t.Errorf("direct GET, allowed: %+v", res)
	}
	n.SetDirect(t, testnet.DirectDrop)
	start := time.Now()
	if res := get(t, n, "", url, "-timeout=1s"); !strings.Contains(res.Err, "Client.Timeout exceeded") {
		t.Errorf("direct GET, dropped: %+v, want a timeout", res)
	} else if d := time.Since(start); d < time.Second {
		t.Errorf("direct GET, dropped, failed after %v, before its timeout", d)
	}
	if res := get(t, n, squid.URL(), url); res.Status != 200 {
		t.Errorf("GET through squid, direct dropped: %+v", res)
	}
	n.SetDirect(t, testnet.DirectReject)
	if res := get(t, n, "", url); !strings.Contains(res.Err, "no route to host") {
		t.Errorf("direct GET, rejected: %+v", res)
	}
	n.SetDirect(t, testnet.DirectAllow)
	if res := get(t, n, "", url); res.Status != 200 {
		t.Errorf("direct GET, allowed again: %+v", res)
	}
}

// TestProxyAuth: squid with basic auth answers 407 without credentials
// or with wrong ones, and lets through the right ones, given as users
// write them in HTTPS_PROXY: percent-encoded. Through the CONNECT tunnel
// the origin is a Go TLS server in the origin namespace.
func TestProxyAuth(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	const user, password = "alice", "p@ss#w:rd/%"
	ca := testnet.NewCA(t, "origin CA")
	host := n.Host(testnet.Origin)
	var seen atomic.Int32
	n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(host, 443), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		fmt.Fprint(w, "go origin")
	}), ca.Issue(t, "origin.test"))
	web := n.StartNginx(t, testnet.NginxOptions{Root: tree(t, map[string]string{"f": "nginx origin"})})
	n.SetHosts(t, testnet.Middle, testnet.Records{"origin.test": {host}})
	squid := n.StartSquid(t, testnet.SquidOptions{Users: map[string]string{user: password}})

	authURL := squid.AuthURL(user, password)
	if !strings.Contains(authURL, "p%40ss%23w%3Ard%2F%25@") {
		t.Fatalf("AuthURL = %s, want the password percent-encoded", authURL)
	}
	if res := get(t, n, squid.URL(), web.HTTPURL("/f")); res.Status != 407 {
		t.Errorf("GET without credentials: %+v, want 407", res)
	}
	if res := get(t, n, squid.AuthURL(user, "p@ss#w:rd/"), web.HTTPURL("/f")); res.Status != 407 {
		t.Errorf("GET with a wrong password: %+v, want 407", res)
	}
	if res := get(t, n, authURL, web.HTTPURL("/f")); res.Status != 200 || res.Body != "nginx origin" {
		t.Errorf("GET with credentials: %+v, want 200", res)
	}
	if res := get(t, n, squid.URL(), "https://origin.test/", "-ca", ca.CertFile); !strings.Contains(res.Err, "Proxy Authentication Required") {
		t.Errorf("CONNECT without credentials: %+v, want 407", res)
	}
	if res := get(t, n, authURL, "https://origin.test/", "-ca", ca.CertFile); res.Status != 200 || res.Body != "go origin" || res.Issuer != "origin CA" {
		t.Errorf("CONNECT with credentials: %+v, want 200 from the Go server", res)
	}
	if seen.Load() != 1 {
		t.Errorf("the Go origin saw %d requests, want 1", seen.Load())
	}
}

// TestProxyDeny: squid's ACLs answer 403 to a CONNECT to a denied port and
// to requests for a denied host, and let the rest through.
func TestProxyDeny(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	ca := testnet.NewCA(t, "origin CA")
	web := n.StartNginx(t, testnet.NginxOptions{
		Root:      tree(t, map[string]string{"f": "ok"}),
		Cert:      ca.Issue(t, "origin.test", "blocked.test"),
		HTTPSPort: 8443,
	})
	n.SetHosts(t, testnet.Middle, testnet.Records{"origin.test": {web.Host}, "blocked.test": {web.Host}})
	squid := n.StartSquid(t, testnet.SquidOptions{DenyConnectPorts: []int{443}, DenyHosts: []string{"blocked.test"}})

	if res := get(t, n, squid.URL(), "https://origin.test:443/f", "-ca", ca.CertFile); !strings.Contains(res.Err, "Forbidden") {
		t.Errorf("CONNECT to port 443: %+v, want 403 Forbidden", res)
	}
	if res := get(t, n, squid.URL(), "https://origin.test:8443/f", "-ca", ca.CertFile); res.Status != 200 {
		t.Errorf("CONNECT to port 8443: %+v, want 200", res)
	}
	if res := get(t, n, squid.URL(), "http://blocked.test/f"); res.Status != 403 {
		t.Errorf("GET a denied host: %+v, want 403", res)
	}
	if res := get(t, n, squid.URL(), "https://blocked.test:8443/f", "-ca", ca.CertFile); !strings.Contains(res.Err, "Forbidden") {
		t.Errorf("CONNECT to a denied host: %+v, want 403 Forbidden", res)
	}
	if res := get(t, n, squid.URL(), "http://origin.test/f"); res.Status != 200 {
		t.Errorf("GET an allowed host: %+v, want 200", res)
	}
}

// TestSSLBump: squid in ssl-bump mode presents a certificate that its own
// CA, made by the test, issued: a client that trusts only the origin's CA
// refuses it, one that trusts squid's gets the origin's content.
func TestSSLBump(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	ca := testnet.NewCA(t, "origin CA")
	web := n.StartNginx(t, testnet.NginxOptions{
		Root:      tree(t, map[string]string{"go/index.json": `{"v":1}`}),
		HTTPSOnly: true,
		Cert:      ca.Issue(t, "origin.test"),
	})
	n.SetHosts(t, testnet.Middle, testnet.Records{"origin.test": {web.Host}})
	squid := n.StartSquid(t, testnet.SquidOptions{SSLBump: true, OriginCAs: []*testnet.CA{ca}})
	if squid.CA == nil {
		t.Fatal("no bump CA")
	}
	url := "https://origin.test/go/index.json"
	res := get(t, n, squid.URL(), url, "-ca", squid.CA.CertFile)
	if res.Status != 200 || res.Body != `{"v":1}` {
		t.Fatalf("GET %s through the bumping squid, trusting its CA: %+v", url, res)
	}
	if res.Issuer != squid.CA.Leaf.Subject.CommonName {
		t.Errorf("the certificate the client saw was issued by %q, want squid's CA %q", res.Issuer, squid.CA.Leaf.Subject.CommonName)
	}
	if res := get(t, n, squid.URL(), url, "-ca", ca.CertFile); !strings.Contains(res.Err, "certificate signed by unknown authority") {
		t.Errorf("GET %s through the bumping squid, trusting the origin's CA only: %+v, want unknown authority", url, res)
	}
}

// TestNginxCerts: nginx presents the certificates it is given, and a Go
// client sees each for what it is.
func TestNginxCerts(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	n.SetDirect(t, testnet.DirectAllow)
	ca := testnet.NewCA(t, "origin CA")
	root := tree(t, map[string]string{"go/index.json": `{"json":true}`, "go/index.html": "html"})
	server := `location = /go/ { if ($arg_mode = json) { rewrite ^ /go/index.json? last; } }`
	for _, c := range []struct {
		name string
		cert *testnet.Cert
		want string // in the error; "" for success
	}{
		{"good", ca.Issue(t, "origin.test"), ""},
		{"expired", ca.IssueExpired(t, "origin.test"), "expired"},
		{"self-signed", testnet.SelfSigned(t, "origin.test"), "unknown authority"},
		{"wrong host", ca.Issue(t, "other.test"), "valid for other.test, not origin.test"},
	} {
		web := n.StartNginx(t, testnet.NginxOptions{Root: root, Cert: c.cert, Server: server})
		n.SetHosts(t, testnet.Client, testnet.Records{"origin.test": {web.Host}})
		res := get(t, n, "", "https://origin.test/go/?mode=json", "-ca", ca.CertFile)
		switch {
		case c.want == "" && (res.Status != 200 || res.Body != `{"json":true}`):
			t.Errorf("%s certificate: %+v, want the JSON index", c.name, res)
		case c.want != "" && !strings.Contains(res.Err, c.want):
			t.Errorf("%s certificate: %+v, want an error with %q", c.name, res, c.want)
		}
		if c.want == "" {
			if res := get(t, n, "", web.HTTPURL("/go/")); res.Body != "html" {
				t.Errorf("GET /go/ without mode=json: %+v, want the HTML index", res)
			}
		}
	}
}

// TestDnsmasq: a Go program in the client namespace resolves with the
// resolv.conf and hosts that SetResolver and SetHosts wrote: dnsmasq
// answers the names it was given, NXDOMAIN for others, and a changed (a
// poisoned) record once SetRecords returns.
func TestDnsmasq(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	good, bad, fromHosts := n.Host(testnet.Origin), n.Host(testnet.Origin), n.Host(testnet.Origin)
	dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"origin.test": {good}}})
	n.SetResolver(t, testnet.Client, dns.Addr.Addr())
	n.SetHosts(t, testnet.Client, testnet.Records{"hosts.test": {fromHosts}})

	if res := lookup(t, n, "origin.test"); res.Err != "" || strings.Join(res.Addrs, " ") != good.String() {
		t.Errorf("lookup origin.test: %+v, want %v", res, good)
	}
	if res := lookup(t, n, "other.test"); !res.NotFound {
		t.Errorf("lookup other.test: %+v, want NXDOMAIN", res)
	}
	if res := lookup(t, n, "hosts.test"); res.Err != "" || strings.Join(res.Addrs, " ") != fromHosts.String() {
		t.Errorf("lookup hosts.test (in /etc/hosts): %+v, want %v", res, fromHosts)
	}
	// The default resolver choice (cgo or not) uses the same files.
	var res resolveResult
	runProgram(t, n, testnet.Client, nil, &res, resolve, "origin.test")
	if res.Err != "" || strings.Join(res.Addrs, " ") != good.String() {
		t.Errorf("lookup origin.test, default resolver: %+v, want %v", res, good)
	}

	dns.SetRecords(t, testnet.Records{"origin.test": {bad}})
	if res := lookup(t, n, "origin.test"); res.Err != "" || strings.Join(res.Addrs, " ") != bad.String() {
		t.Errorf("lookup origin.test, poisoned: %+v, want %v", res, bad)
	}
	if b, err := os.ReadFile(dns.Log); err != nil || !strings.Contains(string(b), "query[A] origin.test") {
		t.Errorf("dnsmasq's log shows no query for origin.test: %v\n%s", err, b)
	}
}

// TestDelayDNS: the delaying forwarder answers, right, after its delay,
// over UDP and over TCP.
func TestDelayDNS(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	const delay = 2500 * time.Millisecond
	origin := n.Host(testnet.Origin)
	dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"origin.test": {origin}}})
	slow := n.StartDelayDNS(t, netip.AddrPort{}, dns.Addr, delay)
	for _, opts := range []string{"", "options use-vc\n"} {
		n.SetResolvConf(t, testnet.Client, "nameserver "+slow.Addr.Addr().String()+"\n"+opts)
		before := slow.Queries()
		res := lookup(t, n, "origin.test")
		if res.Err != "" || strings.Join(res.Addrs, " ") != origin.String() {
			t.Errorf("lookup through the forwarder (%q): %+v, want %v", opts, res, origin)
		}
		if res.Elapsed < delay {
			t.Errorf("lookup through the forwarder (%q) took %v, less than its delay %v", opts, res.Elapsed, delay)
		}
		if slow.Queries() == before {
			t.Errorf("lookup (%q): the forwarder saw no query", opts)
		}
	}
}

// TestSilentDNS: a resolver that never answers makes lookups time out.
func TestSilentDNS(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	silent := n.StartSilentDNS(t, netip.AddrPort{})
	for _, opts := range []string{"", " use-vc"} {
		n.SetResolvConf(t, testnet.Client, "nameserver "+silent.Addr.Addr().String()+"\noptions timeout:1 attempts:1"+opts+"\n")
		before := silent.Queries()
		res := lookup(t, n, "origin.test")
		if !res.Timeout {
			t.Errorf("lookup (%q) through the silent resolver: %+v, want a timeout", opts, res)
		}
		if res.Elapsed < time.Second || res.Elapsed > 4*time.Second {
			t.Errorf("lookup (%q) took %v, want about 1 s (timeout:1 attempts:1)", opts, res.Elapsed)
		}
		if silent.Queries() == before {
			t.Errorf("lookup (%q): the silent resolver saw no query", opts)
		}
	}
}

// TestCleanup: when a test ends, its namespaces, /etc/netns directories
// and processes are gone, even when it failed.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var names []string
	var pids []int
	t.Run("topology", func(t *testing.T) {
		n := testnet.New(t)
		for _, r := range []testnet.Role{testnet.Client, testnet.Middle, testnet.Origin} {
			names = append(names, n.Name(r))
		}
		n.StartSquid(t, testnet.SquidOptions{})
		n.StartDnsmasq(t, testnet.DnsmasqOptions{})
		// Something the test starts and forgets.
		cmd := n.Command(testnet.Origin, "sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		out, err := exec.Command("ip", "netns", "pids", n.Name(testnet.Middle)).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(f)
			pids = append(pids, pid)
		}
		pids = append(pids, cmd.Process.Pid)
		if len(pids) < 3 {
			t.Fatalf("pids in the middle and origin namespaces: %v, want squid, dnsmasq and sleep", pids)
		}
	})
	for _, name := range names {
		for _, p := range []string{"/run/netns/" + name, "/etc/netns/" + name} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s still exists after the test (%v)", p, err)
			}
		}
	}
	// Running: in /proc, and not a zombie.
	alive := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		_, rest, _ := strings.Cut(string(b), ") ")
		return err == nil && !strings.HasPrefix(rest, "Z")
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("process %d (%q) still runs after the test", pid, b)
		}
	}
}

// TestAddresses: every address in a topology, servers and all, is in
// 10.213.0.0/16 or loopback, and no namespace has a default route.
func TestAddresses(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	n.StartDnsmasq(t, testnet.DnsmasqOptions{})
	n.Serve(t, testnet.Origin, netip.AddrPort{}, http.NotFoundHandler())
	n.SetDirect(t, testnet.DirectDrop)
	for _, r := range []testnet.Role{testnet.Client, testnet.Middle, testnet.Origin} {
		out, err := exec.Command("ip", "-n", n.Name(r), "-o", "addr", "show").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line) // 1: lo    inet 127.0.0.1/8 scope host lo ...
			if len(f) < 4 {
				continue
			}
			p, err := netip.ParsePrefix(f[3])
			if err != nil || !testnet.Allowed(p.Addr()) || !(p.Addr().IsLoopback() || n.Prefix().Contains(p.Addr())) {
				t.Errorf("%s has address %s: %s", n.Name(r), f[3], line)
			}
		}
		for _, args := range [][]string{{"-4", "route", "show", "table", "all"}, {"-6", "route", "show", "table", "all"}} {
			out, err := exec.Command("ip", append([]string{"-n", n.Name(r)}, args...)...).Output()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "default") {
				t.Errorf("%s has a default route:\n%s", n.Name(r), out)
			}
		}
	}
}
