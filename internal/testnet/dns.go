package testnet

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// DnsmasqOptions configures StartDnsmasq.
type DnsmasqOptions struct {
	// Addr is where dnsmasq answers, over UDP and TCP. Zero: a fresh
	// Middle host, port 53 (a resolv.conf cannot name another port).
	Addr netip.AddrPort
	// Records are the names dnsmasq knows (exact names, not their
	// subdomains). It answers NXDOMAIN for every other name, and has no
	// upstream. A "poisoned" resolver is one with wrong records.
	Records Records
}

// Dnsmasq is a dnsmasq that StartDnsmasq started.
type Dnsmasq struct {
	Addr netip.AddrPort
	Log  string // dnsmasq's log: every query and its answer

	hosts string
	d     *daemon
}

// StartDnsmasq starts dnsmasq with its own configuration only (no
// /etc/dnsmasq.conf, /etc/hosts or /etc/resolv.conf) and waits until it
// answers. It is stopped at cleanup. Point a namespace at it with
// SetResolver(t, Client, d.Addr.Addr()).
func (n *Net) StartDnsmasq(t testing.TB, opts DnsmasqOptions) *Dnsmasq {
	t.Helper()
	Need(t, "dnsmasq")
	r := n.roleFor(t, opts.Addr, Middle)
	addr := n.hostPort(t, r, opts.Addr, 53)
	if err := opts.Records.check(); err != nil {
		t.Fatalf("testnet: dnsmasq: %v", err)
	}
	dir := t.TempDir()
	d := &Dnsmasq{Addr: addr, Log: filepath.Join(dir, "dnsmasq.log"), hosts: filepath.Join(dir, "hosts")}
	if err := os.WriteFile(d.hosts, []byte(opts.Records.hostsFile()), 0o644); err != nil {
		t.Fatal(err)
	}
	// dnsmasq listens only on an address an interface has: the block on
	// lo covers addr but is not addr.
	if err := n.ip(r, "addr", "add", addr.Addr().String()+"/32", "dev", "lo"); err != nil && !strings.Contains(err.Error(), "File exists") {
		t.Fatalf("testnet: dnsmasq: %v", err)
	}
	d.d = n.startDaemon(t, r, d.Log, nil, path("dnsmasq"),
		"--keep-in-foreground",
		"--conf-file=/dev/null", // no /etc/dnsmasq.conf
		"--no-resolv",           // no upstream from /etc/resolv.conf
		"--no-hosts",            // no /etc/hosts
		"--no-poll",
		"--local=/#/", // every name is local: what the records lack is NXDOMAIN
		"--addn-hosts="+d.hosts,
		"--cache-size=0",
		"--no-negcache",
		"--local-ttl=0",
		"--listen-address="+addr.Addr().String(),
		"--bind-interfaces",
		"--port="+strconv.Itoa(int(addr.Port())),
		"--user=root", "--group=root", // it reads the records in a 0700 temporary directory
		"--pid-file=",
		"--log-queries",
		"--log-facility=-",
	)
	d.d.waitReady(t, n.tcpReady(r, addr))
	return d
}

// SetRecords replaces the records d answers with, and returns when d has
// read them.
func (d *Dnsmasq) SetRecords(t testing.TB, records Records) {
	t.Helper()
	if err := records.check(); err != nil {
		t.Fatalf("testnet: dnsmasq: %v", err)
	}
	reads := func() int {
		b, _ := os.ReadFile(d.Log)
		return strings.Count(string(b), "read "+d.hosts+" ")
	}
	before := reads()
	tmp := d.hosts + ".new"
	if err := os.WriteFile(tmp, []byte(records.hostsFile()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, d.hosts); err != nil {
		t.Fatal(err)
	}
	if err := d.d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("testnet: dnsmasq: %v", err)
	}
	deadline := time.Now().Add(readyTimeout)
	for reads() <= before {
		if time.Now().After(deadline) {
			d.d.showLogs(t)
			t.Fatalf("testnet: dnsmasq did not reread its records within %v", readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DNSServer is a DNS server written in Go that runs in the test process:
// see StartSilentDNS and StartDelayDNS.
type DNSServer struct {
	Addr    netip.AddrPort
	queries atomic.Int64
}

// Queries counts the UDP queries and TCP connections s has received.
func (s *DNSServer) Queries() int { return int(s.queries.Load()) }

// StartSilentDNS starts a DNS server that never answers: it reads UDP
// queries and drops them, and accepts TCP connections and holds them open
// until cleanup. Zero addr: a fresh Middle host, port 53.
func (n *Net) StartSilentDNS(t testing.TB, addr netip.AddrPort) *DNSServer {
	t.Helper()
	return n.startGoDNS(t, addr,
		func(context.Context, []byte) []byte { return nil },
		func(_ context.Context, c net.Conn) { io.Copy(io.Discard, c) })
}

// StartDelayDNS starts a DNS forwarder that holds each query for delay,
// then relays it to upstream (a dnsmasq, say) and relays the answer back:
// a resolver that answers, late. Over UDP each query is forwarded by
// itself; over TCP the connection to upstream is made after delay, and
// then bytes are relayed both ways as they come. Zero addr: a fresh
// Middle host, port 53.
func (n *Net) StartDelayDNS(t testing.TB, addr, upstream netip.AddrPort, delay time.Duration) *DNSServer {
	t.Helper()
	r := n.roleFor(t, addr, Middle)
	wait := func(ctx context.Context) bool {
		select {
		case <-time.After(delay):
			return true
		case <-ctx.Done():
			return false
		}
	}
	udp := func(ctx context.Context, q []byte) []byte {
		if !wait(ctx) {
			return nil
		}
		c, err := n.DialContext(ctx, r, "udp", upstream.String())
		if err != nil {
			return nil
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(q); err != nil {
			return nil
		}
		buf := make([]byte, 64<<10)
		m, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:m]
	}
	tcp := func(ctx context.Context, c net.Conn) {
		if !wait(ctx) {
			return
		}
		up, err := n.DialContext(ctx, r, "tcp", upstream.String())
		if err != nil {
			return
		}
		defer up.Close()
		stop := context.AfterFunc(ctx, func() { up.Close() })
		defer stop()
		deadline := time.Now().Add(10 * time.Second)
		c.SetDeadline(deadline)
		up.SetDeadline(deadline)
		go io.Copy(up, c)
		io.Copy(c, up)
	}
	return n.startGoDNS(t, addr, udp, tcp)
}

// startGoDNS listens on addr over UDP and TCP and hands each query and
// connection to its own goroutine. At cleanup the sockets are closed, the
// handlers' contexts cancelled, and their connections closed.
func (n *Net) startGoDNS(t testing.TB, addr netip.AddrPort, udp func(ctx context.Context, q []byte) []byte, tcp func(ctx context.Context, c net.Conn)) *DNSServer {
	t.Helper()
	r := n.roleFor(t, addr, Middle)
	addr = n.hostPort(t, r, addr, 53)
	pc, err := n.ListenPacket(r, "udp", addr.String())
	if err != nil {
		t.Fatalf("testnet: dns server: %v", err)
	}
	ln, err := n.Listen(r, "tcp", addr.String())
	if err != nil {
		pc.Close()
		t.Fatalf("testnet: dns server: %v", err)
	}
	s := &DNSServer{Addr: addr}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			buf := make([]byte, 64<<10)
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.queries.Add(1)
			wg.Go(func() {
				if a := udp(ctx, buf[:m]); a != nil && ctx.Err() == nil {
					pc.WriteTo(a, from)
				}
			})
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.queries.Add(1)
			wg.Go(func() {
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				defer c.Close()
				tcp(ctx, c)
			})
		}
	})
	t.Cleanup(func() {
		cancel()
		pc.Close()
		ln.Close()
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			t.Errorf("testnet: dns server %v: handlers still running %v after close", addr, stopTimeout)
		}
	})
	return s
}

// roleFor is the namespace a server at addr runs in: the one whose block
// holds addr, or def when addr has no address.
func (n *Net) roleFor(t testing.TB, addr netip.AddrPort, def Role) Role {
	t.Helper()
	if !addr.Addr().IsValid() {
		return def
	}
	r, ok := n.RoleOf(addr.Addr())
	if !ok {
		t.Fatalf("testnet: %v is in no namespace's block of %v", addr.Addr(), n.Prefix())
	}
	return r
}
