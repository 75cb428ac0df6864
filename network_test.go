//go:build linux

package gostrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/probe"
	"github.com/gostrap/gostrap/internal/testnet"
	"github.com/gostrap/gostrap/mirror"
)

// The network as users meet it (issue 13): the real gostrap binary, run in the client namespace
// of an internal/testnet topology, against real squid, dnsmasq and nginx, and Go servers of the
// test in the origin namespace serving the fixture (official site, module proxy and checksum
// database on one host, go.test). Every scenario asserts the outcome (exit code), the class the
// report leads with, and the key words of its message and hint. Nothing but 10.213.0.0/16 on
// the topology's own veths and loopback is ever contacted.

const netVersion = "1.22.3"

// netRun is one gostrap run.
type netRun struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// origin serves the fixture as go.test does: the official site under /dl/, the module proxy
// and the checksum database (/sumdb/sum.test/) everywhere else.
func originHandler() http.Handler {
	official, proxy := fixture.OfficialHandler(), fixture.ProxyHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/dl/") {
			official.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// netEnv is what a scenario's runs share: where go.test is and which CA vouches for it.
type netEnv struct {
	n      *testnet.Net
	origin string // https://go.test[:port]
	ca     *testnet.CA
}

// env is the environment of one run: fresh directories, the origin as official site and
// GOPROXY (the database through it), the origin's CA, the test network guard.
func (e *netEnv) env(t *testing.T, extra ...string) []string {
	tmp := t.TempDir()
	env := []string{
		"HOME=" + tmp,
		"GOSTRAP_DIR=" + filepath.Join(tmp, "go"),
		"GOSTRAP_CACHE=" + filepath.Join(tmp, "cache"),
		"GOSTRAP_OFFICIAL=" + e.origin + "/dl/",
		"GOSTRAP_MIRRORS=off",
		"GOPROXY=" + e.origin,
		"GOSUMDB=" + fixture.VKey,
		download.TestNetworkEnv + "=testnet",
	}
	if e.ca != nil {
		env = append(env, "GOSTRAP_CA_FILE="+e.ca.CertFile)
	}
	return append(env, extra...)
}

// run runs the gostrap binary in the client namespace.
func (e *netEnv) run(t *testing.T, env []string, args ...string) netRun {
	t.Helper()
	bin := gostrapBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := e.n.CommandContext(ctx, testnet.Client, bin, args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := netRun{Took: time.Since(start), Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("gostrap %s: %v\n%s", strings.Join(args, " "), err, r.Stderr)
	}
	return r
}

// install runs gostrap install --json and decodes the report.
func (e *netEnv) install(t *testing.T, env []string, args ...string) (netRun, *Report) {
	t.Helper()
	r := e.run(t, env, append([]string{"install", netVersion, "--json"}, args...)...)
	var rep Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("install: exit %d, not a JSON report: %v\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
	}
	return r, &rep
}

// expectInstalled checks that the run installed the release.
func expectInstalled(t *testing.T, r netRun, rep *Report) {
	t.Helper()
	if r.Code != 0 || rep.Error != nil || rep.Version != "go"+netVersion || rep.Verified == nil {
		t.Fatalf("install: exit %d, want 0: %+v\nstderr: %s", r.Code, rep.Error, r.Stderr)
	}
	t.Logf("exit 0 in %v: installed from %s %s, verified by %s", r.Took.Round(time.Millisecond), rep.Source.Kind, rep.Source.URL, rep.Verified.Method)
}

// expectFailure checks the exit code, and that the first failed attempt (what the report
// leads with) has the class, message and hint words given.
func expectFailure(t *testing.T, r netRun, rep *Report, code int, class failure.Class, msg, hint []string) *failure.Problem {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstderr: %s", r.Code, code, r.Stderr)
	}
	if rep.Error == nil || rep.Error.Class != class {
		t.Errorf("report's error %+v, want class %s", rep.Error, class)
	}
	var p *failure.Problem
	for _, a := range rep.Attempts {
		if a.Error != nil {
			p = a.Error
			break
		}
	}
	if p == nil {
		t.Fatalf("no failed attempt in the report: %s", r.Stdout)
	}
	t.Logf("exit %d in %v: %s\n\tmessage: %s\n\thint: %s", r.Code, r.Took.Round(time.Millisecond), p.Class, p.Message, p.Hint)
	if p.Class != class {
		t.Errorf("first failure %s, want %s: %s", p.Class, class, p.Message)
	}
	for _, w := range msg {
		if !strings.Contains(p.Message, w) {
			t.Errorf("message lacks %q: %s", w, p.Message)
		}
	}
	for _, w := range hint {
		if !strings.Contains(p.Hint, w) {
			t.Errorf("hint lacks %q: %s", w, p.Hint)
		}
	}
	return p
}

// noSecret checks that a run printed neither form of a password.
func noSecret(t *testing.T, r netRun, passwords ...string) {
	t.Helper()
	for _, pw := range passwords {
		for _, form := range []string{pw, strings.NewReplacer("@", "%40", "#", "%23").Replace(pw)} {
			if strings.Contains(r.Stdout+r.Stderr, form) {
				t.Errorf("the password appears in the output as %q:\n%s\n%s", form, r.Stdout, r.Stderr)
			}
		}
	}
}

// doctor runs gostrap doctor --json and decodes the diagnosis.
func (e *netEnv) doctor(t *testing.T, env []string, args ...string) (netRun, *Diagnosis) {
	t.Helper()
	r := e.run(t, env, append([]string{"doctor", "--json"}, args...)...)
	var d Diagnosis
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("doctor: exit %d, not JSON: %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
	}
	return r, &d
}

// stages lists every probe stage of a diagnosis' sources of a kind.
func stages(d *Diagnosis, kind string) []probe.Stage {
	var out []probe.Stage
	for _, s := range d.Sources {
		if s.Kind == kind {
			for _, p := range s.Probes {
				out = append(out, p.Stages...)
			}
		}
	}
	return out
}

// Squid between the client and the origin, the only way out: open, with basic auth (missing,
// wrong, right with @ and # percent-encoded), denying the origin's port, bumping TLS with its own
// CA, a proxy port where nothing listens, and NO_PROXY sending the origin past it.
func TestNetworkSquid(t *testing.T) {
	t.Parallel()
	testnet.Need(t, "squid", "dnsmasq")
	n := testnet.New(t) // the client reaches the origin only through the middle's proxies
	ca := testnet.NewCA(t, "gostrap origin CA")
	originHost := n.Host(testnet.Origin)
	const port = 18443 // not 443: a 403 must name the port it denied
	n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(originHost, port), originHandler(), ca.Issue(t, "go.test"))
	n.SetHosts(t, testnet.Middle, testnet.Records{"go.test": {originHost}}) // squid's resolver
	dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"go.test": {originHost}}})
	n.SetResolver(t, testnet.Client, dns.Addr.Addr())
	e := &netEnv{n: n, origin: fmt.Sprintf("https://go.test:%d", port), ca: ca}

	const user, password, wrong = "gopher", "p@ss#w0rd", "wr@ng#pw"
	open := n.StartSquid(t, testnet.SquidOptions{})
	authed := n.StartSquid(t, testnet.SquidOptions{Users: map[string]string{user: password}})
	deny := n.StartSquid(t, testnet.SquidOptions{DenyConnectPorts: []int{port}})
	bump := n.StartSquid(t, testnet.SquidOptions{SSLBump: true, OriginCAs: []*testnet.CA{ca}})
	deadProxy := fmt.Sprintf("http://%s:13199", n.Host(testnet.Middle))

	t.Run("open", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+open.URL()))
		expectInstalled(t, r, rep)
		log := strings.Join(open.AccessLogLines(t), "\n")
		if !strings.Contains(log, fmt.Sprintf("CONNECT go.test:%d", port)) || strings.Contains(log, "sum.test") {
			t.Errorf("squid's log should show go.test only (the database through GOPROXY):\n%s", log)
		}
	})
	t.Run("auth missing", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+authed.URL()))
		expectFailure(t, r, rep, 3, failure.ProxyAuth, []string{"407"}, []string{"demands credentials", authed.URL(), "HTTPS_PROXY"})
	})
	t.Run("auth wrong", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+authed.AuthURL(user, wrong)))
		p := expectFailure(t, r, rep, 3, failure.ProxyAuth, []string{"407"}, []string{"rejected the user name and password", "HTTPS_PROXY"})
		if strings.Contains(p.Hint, "demands credentials") {
			t.Errorf("wrong credentials get the hint for missing ones: %s", p.Hint)
		}
		noSecret(t, r, wrong)
	})
	t.Run("auth right, @ and # percent-encoded", func(t *testing.T) {
		proxy := authed.AuthURL(user, password)
		if !strings.Contains(proxy, "%40") || !strings.Contains(proxy, "%23") {
			t.Fatalf("proxy URL %s is not percent-encoded", proxy)
		}
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+proxy))
		expectInstalled(t, r, rep)
		noSecret(t, r, password)
		// The human output too, with its progress lines.
		r = e.run(t, e.env(t, "HTTPS_PROXY="+proxy), "install", netVersion)
		if r.Code != 0 {
			t.Errorf("human install: exit %d\n%s", r.Code, r.Stderr)
		}
		noSecret(t, r, password)
	})
	t.Run("ACL denies the port", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+deny.URL()))
		expectFailure(t, r, rep, 3, failure.ProxyConnect, []string{"403", fmt.Sprintf("go.test:%d", port)},
			[]string{"does not allow CONNECT", fmt.Sprintf("port %d", port), deny.URL()})
	})
	t.Run("ssl-bump, then --ca-file", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+bump.URL()))
		expectFailure(t, r, rep, 3, failure.TLSUnknownAuthority, []string{`issued by "gostrap testnet squid bump CA"`},
			[]string{`"gostrap testnet squid bump CA"`, "--ca-file"})
		r, rep = e.install(t, e.env(t, "HTTPS_PROXY="+bump.URL()), "--ca-file", bump.CA.CertFile)
		expectInstalled(t, r, rep)
	})
	t.Run("dead proxy port", func(t *testing.T) {
		r, rep := e.install(t, e.env(t, "HTTPS_PROXY="+deadProxy))
		p := expectFailure(t, r, rep, 3, failure.ProxyConnect, []string{deadProxy},
			[]string{deadProxy, "(from HTTPS_PROXY)", "refused"})
		if strings.Contains(p.Hint, "only lets a proxy out") {
			t.Errorf("the dead proxy is blamed on the target: %s", p.Hint)
		}
		// Doctor's proxy line says the proxy was not reached.
		r, d := e.doctor(t, e.env(t, "HTTPS_PROXY="+deadProxy))
		if r.Code != 3 {
			t.Errorf("doctor: exit %d, want 3", r.Code)
		}
		st := stages(d, "official")
		if len(st) == 0 || st[0].Name != "proxy" || st[0].OK || st[0].Error == nil || st[0].Error.Class != failure.ProxyConnect {
			t.Errorf("doctor's proxy line with a dead proxy: %+v", st)
		}
	})
	t.Run("NO_PROXY sends the origin direct", func(t *testing.T) {
		env := e.env(t, "HTTPS_PROXY="+open.URL(), "NO_PROXY=localhost,.test")
		r, rep := e.install(t, env)
		p := expectFailure(t, r, rep, 3, failure.TCPRefused, []string{`NO_PROXY entry ".test"`},
			[]string{`NO_PROXY entry ".test"`, open.URL(), "HTTPS_PROXY"})
		if strings.Contains(p.Hint, "only lets a proxy out") {
			t.Errorf("the hint asks for a proxy that is set: %s", p.Hint)
		}
		_, d := e.doctor(t, env)
		st := stages(d, "official")
		if len(st) == 0 || st[0].Name != "proxy" || !st[0].OK || !strings.Contains(st[0].Detail, `NO_PROXY entry ".test" matches go.test`) {
			t.Errorf("doctor does not say NO_PROXY sent go.test direct: %+v", st)
		}
	})
	t.Run("doctor through squid", func(t *testing.T) {
		before := len(open.AccessLogLines(t))
		r, d := e.doctor(t, e.env(t, "HTTPS_PROXY="+open.URL()))
		if r.Code != 0 || !d.CanServe {
			t.Fatalf("doctor through squid: exit %d\n%s", r.Code, r.Stdout)
		}
		for _, kind := range []string{"official", "proxy", KindSumDB} {
			st := stages(d, kind)
			if len(st) == 0 || st[0].Name != "proxy" || !st[0].OK || !strings.Contains(st[0].Detail, "reachable at") {
				t.Errorf("%s: doctor's proxy line: %+v", kind, st)
			}
		}
		var sum []string
		for _, s := range d.Sources {
			if s.Kind == KindSumDB {
				for _, p := range s.Probes {
					sum = append(sum, p.URL)
				}
			}
		}
		if want := []string{e.origin + "/sumdb/sum.test/supported"}; !slices.Equal(sum, want) {
			t.Errorf("doctor probed the checksum database at %v, want %v (through GOPROXY, as install does)", sum, want)
		}
		time.Sleep(200 * time.Millisecond) // squid logs a tunnel when it closes
		if log := strings.Join(open.AccessLogLines(t)[before:], "\n"); strings.Contains(log, "sum.test") {
			t.Errorf("doctor went to the database directly:\n%s", log)
		}
	})
}

// dnsmasq as the client's resolver: a name it does not know, poisoned answers (a host with
// another name's certificate, a closed port), each fixed by --resolve.
func TestNetworkDNS(t *testing.T) {
	t.Parallel()
	n := testnet.New(t)
	n.SetDirect(t, testnet.DirectAllow)
	ca := testnet.NewCA(t, "gostrap origin CA")
	good, other, closed := n.Host(testnet.Origin), n.Host(testnet.Origin), n.Host(testnet.Origin)
	n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(good, 443), originHandler(), ca.Issue(t, "go.test"))
	n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(other, 443), originHandler(), ca.Issue(t, "other.test"))
	dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{})
	n.SetResolver(t, testnet.Client, dns.Addr.Addr())
	e := &netEnv{n: n, origin: "https://go.test", ca: ca}
	fix := "--resolve=go.test:443:" + good.String()

	t.Run("NXDOMAIN", func(t *testing.T) {
		r, rep := e.install(t, e.env(t))
		p := expectFailure(t, r, rep, 3, failure.DNS, []string{"go.test does not exist (NXDOMAIN", dns.Addr.Addr().String()},
			[]string{"does not exist", "--resolve go.test:443:ADDR"})
		if strings.Contains(p.Message+p.Hint, "no answer") {
			t.Errorf("NXDOMAIN described as silence: %+v", p)
		}
	})
	t.Run("poisoned: another name's certificate", func(t *testing.T) {
		dns.SetRecords(t, testnet.Records{"go.test": {other}})
		r, rep := e.install(t, e.env(t))
		expectFailure(t, r, rep, 3, failure.TLSHostname, []string{"the certificate is for other.test"},
			[]string{"is for other.test", "--resolve"})
		r, rep = e.install(t, e.env(t), fix)
		expectInstalled(t, r, rep)
	})
	t.Run("poisoned: a closed port", func(t *testing.T) {
		dns.SetRecords(t, testnet.Records{"go.test": {closed}})
		r, rep := e.install(t, e.env(t))
		expectFailure(t, r, rep, 3, failure.TCPRefused, []string{closed.String()}, []string{"nothing accepts connections", "--resolve"})
		r, rep = e.install(t, e.env(t), fix)
		expectInstalled(t, r, rep)
	})
}

// A resolver that answers late: 2.5 s, 3.5 s and 8 s (a forwarder of the test's own in front of
// dnsmasq), and one that never answers. Each is looked up once for the whole run, and one that
// answers within the 10 s budget never fails the install.
func TestNetworkSlowDNS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		delay time.Duration // 0: silent
	}{
		{"2.5s", 2500 * time.Millisecond},
		{"3.5s", 3500 * time.Millisecond},
		{"8s", 8 * time.Second},
		{"silent", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := testnet.New(t)
			n.SetDirect(t, testnet.DirectAllow)
			ca := testnet.NewCA(t, "gostrap origin CA")
			host := n.Host(testnet.Origin)
			n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(host, 443), originHandler(), ca.Issue(t, "go.test"))
			dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"go.test": {host}}})
			var resolver *testnet.DNSServer
			if tc.delay > 0 {
				resolver = n.StartDelayDNS(t, netip.AddrPort{}, dns.Addr, tc.delay)
			} else {
				resolver = n.StartSilentDNS(t, netip.AddrPort{})
			}
			n.SetResolver(t, testnet.Client, resolver.Addr.Addr())
			e := &netEnv{n: n, origin: "https://go.test", ca: ca}
			r, rep := e.install(t, e.env(t))
			t.Logf("resolver %s: exit %d in %v, %d queries", tc.name, r.Code, r.Took.Round(10*time.Millisecond), resolver.Queries())
			if tc.delay == 0 {
				expectFailure(t, r, rep, 3, failure.DNSTimeout,
					[]string{"no answer from the resolver at " + resolver.Addr.String(), "within 10s"},
					[]string{"gave no answer", "--dns-timeout"})
				if r.Took < 9*time.Second || r.Took > 14*time.Second {
					t.Errorf("a silent resolver cost %v, want one 10 s budget for the whole run", r.Took)
				}
				return
			}
			expectInstalled(t, r, rep)
			// Once per host: the A and AAAA queries, and Go's resend of them when the answer takes
			// longer than resolv.conf's 5 s; not once per connection.
			if q := resolver.Queries(); q > 4 {
				t.Errorf("%d queries reached the resolver: go.test was looked up more than once", q)
			}
			if limit := tc.delay + 4*time.Second; r.Took > limit {
				t.Errorf("install took %v with answers after %v, want under %v: the delay is paid once", r.Took, tc.delay, limit)
			}
		})
	}
}

// nginx as the origin: plain HTTP (an --official base the user chose), and HTTPS with a
// self-signed, an expired and another host's certificate. nginx sends its Date, so the clock
// is not blamed for the expired one.
func TestNetworkNginx(t *testing.T) {
	t.Parallel()
	testnet.Need(t, "nginx")
	n := testnet.New(t)
	n.SetDirect(t, testnet.DirectAllow)
	ca := testnet.NewCA(t, "gostrap origin CA")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "dl"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dl", "index.json"), fixture.IndexJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	name := mirror.Host().ArchiveName("go" + netVersion)
	data, ok := fixture.Archive(name)
	if !ok {
		t.Fatalf("no archive %s in the fixture", name)
	}
	if err := os.WriteFile(filepath.Join(root, "dl", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := `location = /dl/ { if ($arg_mode = json) { rewrite ^ /dl/index.json? last; } }`
	start := func(cert *testnet.Cert) *testnet.Nginx {
		return n.StartNginx(t, testnet.NginxOptions{Root: root, Server: conf, Cert: cert, HTTPSOnly: cert != nil})
	}
	plain := start(nil)
	self := start(testnet.SelfSigned(t, "dl-self.test"))
	expired := start(ca.IssueExpired(t, "dl-expired.test"))
	wrongHost := start(ca.Issue(t, "other.test"))
	n.SetHosts(t, testnet.Client, testnet.Records{"dl.test": {plain.Host}, "dl-self.test": {self.Host},
		"dl-expired.test": {expired.Host}, "dl-wrong.test": {wrongHost.Host}})
	e := &netEnv{n: n, ca: ca}
	env := func(t *testing.T, official string) []string {
		return append(e.env(t), "GOSTRAP_OFFICIAL="+official, "GOPROXY=off")
	}

	t.Run("http", func(t *testing.T) {
		r, rep := e.install(t, env(t, "http://dl.test/dl/"))
		expectInstalled(t, r, rep)
	})
	t.Run("https self-signed", func(t *testing.T) {
		r, rep := e.install(t, env(t, "https://dl-self.test/dl/"))
		expectFailure(t, r, rep, 3, failure.TLSUnknownAuthority, []string{`issued by "dl-self.test"`}, []string{`"dl-self.test"`, "--ca-file"})
	})
	t.Run("https expired", func(t *testing.T) {
		r, rep := e.install(t, env(t, "https://dl-expired.test/dl/"))
		p := expectFailure(t, r, rep, 3, failure.TLSExpired, []string{"expired"}, []string{"expired on", "the server's clock agrees"})
		if strings.Contains(p.Hint, "Fix the clock") || strings.Contains(p.Hint, "timedatectl") {
			t.Errorf("the clock is blamed though the server's Date agrees: %s", p.Hint)
		}
	})
	t.Run("https wrong host", func(t *testing.T) {
		r, rep := e.install(t, env(t, "https://dl-wrong.test/dl/"))
		expectFailure(t, r, rep, 3, failure.TLSHostname, []string{"the certificate is for other.test"}, []string{"is for other.test"})
	})
}
