package testnet

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// program is something Need can check for.
type program struct {
	paths []string // the first that exists is used
	pkg   string   // the Debian package to install
	check func(path string) string
}

var knownPrograms = map[string]program{
	"squid":           {paths: []string{"/usr/sbin/squid"}, pkg: "squid-openssl"},
	"basic_ncsa_auth": {paths: []string{"/usr/lib/squid/basic_ncsa_auth"}, pkg: "squid-openssl"},
	"security_file_certgen": {
		paths: []string{"/usr/lib/squid/security_file_certgen"}, pkg: "squid-openssl",
		check: func(string) string {
			// The helper alone is not enough: squid itself must be built
			// with OpenSSL to bump.
			out, err := exec.Command("/usr/sbin/squid", "-v").CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--with-openssl")) {
				return "squid is not built with OpenSSL (no ssl-bump)"
			}
			return ""
		},
	},
	"dnsmasq": {paths: []string{"/usr/sbin/dnsmasq"}, pkg: "dnsmasq-base"},
	"nginx":   {paths: []string{"/usr/sbin/nginx"}, pkg: "nginx-light"},
}

var (
	needMu    sync.Mutex
	needCache = map[string]string{}
)

// Need skips the test (see Require) unless each of the named programs is
// installed, naming the Debian package to install: "squid",
// "basic_ncsa_auth", "security_file_certgen" (which also wants squid built
// with OpenSSL, for ssl-bump), "dnsmasq", "nginx". The Start functions
// call it themselves. An unknown name fails the test.
func Need(t testing.TB, names ...string) {
	t.Helper()
	Require(t)
	for _, name := range names {
		if _, ok := knownPrograms[name]; !ok {
			t.Fatalf("testnet: Need: unknown program %q", name)
		}
		if msg := need(name); msg != "" {
			skip(t, msg)
		}
	}
}

func need(name string) string {
	needMu.Lock()
	defer needMu.Unlock()
	if msg, ok := needCache[name]; ok {
		return msg
	}
	p := knownPrograms[name]
	msg := fmt.Sprintf("testnet: needs %s: apt-get install %s", name, p.pkg)
	for _, path := range p.paths {
		if _, err := os.Stat(path); err == nil {
			msg = ""
			if p.check != nil {
				if why := p.check(path); why != "" {
					msg = fmt.Sprintf("testnet: needs %s: %s: apt-get install %s", name, why, p.pkg)
				}
			}
			break
		}
	}
	needCache[name] = msg
	return msg
}

// path is where a program Need found lives.
func path(name string) string {
	for _, p := range knownPrograms[name].paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}

// daemon is a long-running program a Start function runs in a namespace:
// killed with its process group at cleanup, its logs shown if the test
// failed.
type daemon struct {
	name string
	cmd  *exec.Cmd
	logs []string
	done chan struct{}
	err  error
}

const (
	readyTimeout = 15 * time.Second // for a daemon to start answering
	stopTimeout  = 10 * time.Second // for it to be gone after SIGKILL
)

// startDaemon starts name in r's namespace with its output in the file
// out, which with the other logs is shown when the test fails.
func (n *Net) startDaemon(t testing.TB, r Role, out string, logs []string, name string, args ...string) *daemon {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := &daemon{name: name, logs: append([]string{out}, logs...), done: make(chan struct{})}
	d.cmd = n.Command(r, name, args...)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("testnet: starting %s: %v", name, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			d.showLogs(t)
		}
	})
	return d
}

func (d *daemon) stop(t testing.TB) {
	// Even when the daemon has exited: children it left (squid's helpers)
	// are still in its group. The group may be gone already.
	killGroup(d.cmd.Process.Pid)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		t.Errorf("testnet: %s (pid %d) still runs %v after SIGKILL", d.name, d.cmd.Process.Pid, stopTimeout)
	}
}

func (d *daemon) showLogs(t testing.TB) {
	for _, l := range d.logs {
		b, err := os.ReadFile(l)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 60 {
			lines = append([]string{"..."}, lines[len(lines)-60:]...)
		}
		t.Logf("testnet: %s: %s:\n\t%s", d.name, l, strings.Join(lines, "\n\t"))
	}
}

// waitReady polls ready until it returns nil; it fails the test, showing
// the logs, if the daemon exits first or readyTimeout passes.
func (d *daemon) waitReady(t testing.TB, ready func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := ready(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-d.done:
			d.showLogs(t)
			t.Fatalf("testnet: %s exited while starting: %v", d.name, d.err)
		default:
		}
		if time.Now().After(deadline) {
			d.showLogs(t)
			t.Fatalf("testnet: %s not ready after %v: %v", d.name, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tcpReady is a readiness check: a TCP connection to addr from r succeeds.
func (n *Net) tcpReady(r Role, addr netip.AddrPort) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c, err := n.DialContext(ctx, r, "tcp", addr.String())
		if err == nil {
			c.Close()
		}
		return err
	}
}
