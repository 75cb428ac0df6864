package download

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
)

// fakeDNS is a name server on loopback: it answers A queries for its records, NXDOMAIN for
// other names, after delay; with answerFirst it answers only the first query and is silent
// after; with silent, never.
type fakeDNS struct {
	pc          net.PacketConn
	records     map[string]netip.Addr // "name." -> address
	delay       time.Duration
	silent      bool
	answerFirst bool
	queries     atomic.Int32
}

func startFakeDNS(t *testing.T, f *fakeDNS) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.pc = pc
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		pc.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			buf := make([]byte, 4096)
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			k := f.queries.Add(1)
			if f.silent || f.answerFirst && k > 1 {
				continue
			}
			q := buf[:n]
			wg.Go(func() {
				select {
				case <-time.After(f.delay):
				case <-done:
					return
				}
				pc.WriteTo(dnsAnswer(q, f.records), from)
			})
		}
	})
	return f
}

func (f *fakeDNS) addr() string { return f.pc.LocalAddr().String() }

// dnsQuery builds a query for name (with its final dot) and qtype.
func dnsQuery(id uint16, name string, qtype uint16) []byte {
	m := make([]byte, 12)
	binary.BigEndian.PutUint16(m, id)
	binary.BigEndian.PutUint16(m[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(m[4:], 1)
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		m = append(m, byte(len(l)))
		m = append(m, l...)
	}
	m = append(m, 0, byte(qtype>>8), byte(qtype), 0, 1)
	return m
}

// dnsAnswer answers query q from records.
func dnsAnswer(q []byte, records map[string]netip.Addr) []byte {
	_, key, ok := dnsQuestion(q)
	if !ok {
		return nil
	}
	name, qtype := key[:len(key)-4], binary.BigEndian.Uint16([]byte(key[len(key)-4:]))
	qlen := 12
	for q[qlen] != 0 {
		qlen += 1 + int(q[qlen])
	}
	qlen += 5
	m := append([]byte{}, q[:qlen]...)
	binary.BigEndian.PutUint16(m[10:], 0) // no additional records (the query's EDNS)
	addr, known := records[name]
	switch {
	case !known:
		binary.BigEndian.PutUint16(m[2:], 0x8183) // NXDOMAIN
	case qtype == 1:
		binary.BigEndian.PutUint16(m[2:], 0x8180)
		binary.BigEndian.PutUint16(m[6:], 1)
		m = append(m, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		m = append(m, addr.AsSlice()...)
	default:
		binary.BigEndian.PutUint16(m[2:], 0x8180) // no records of that type
	}
	return m
}

func testResolver(t *testing.T, f *fakeDNS, budget time.Duration) *resolver {
	r := newResolver(budget, guardLoopback)
	r.redirect = f.addr()
	return r
}

// Every caller of one host shares one lookup, for the whole run: one query per record type.
func TestLookupOncePerHost(t *testing.T) {
	f := startFakeDNS(t, &fakeDNS{records: map[string]netip.Addr{
		"a.test.": netip.MustParseAddr("10.213.0.10"), "b.test.": netip.MustParseAddr("10.213.0.11")}})
	r := testResolver(t, f, 2*time.Second)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			addrs, err := r.LookupHost(ctx, "a.test", "443")
			if err != nil || len(addrs) != 1 || addrs[0] != "10.213.0.10" {
				t.Errorf("LookupHost(a.test) = %v, %v", addrs, err)
			}
		})
	}
	wg.Wait()
	perLookup := f.queries.Load() // A and AAAA
	for range 5 {
		r.LookupHost(ctx, "A.test.", "80")
	}
	if got := f.queries.Load(); got != perLookup || got > 2 {
		t.Errorf("%d queries for one host looked up 25 times, want %d (one lookup)", got, perLookup)
	}
	if _, err := r.LookupHost(ctx, "b.test", "443"); err != nil {
		t.Fatal(err)
	}
	if got := f.queries.Load(); got != 2*perLookup {
		t.Errorf("%d queries after a second host, want %d", got, 2*perLookup)
	}
}

// NXDOMAIN and a silent resolver are both class dns, with different messages and hints; the
// silent one costs the budget once, and the failure is remembered.
func TestLookupNXDOMAINAndSilent(t *testing.T) {
	nx := testResolver(t, startFakeDNS(t, &fakeDNS{}), 2*time.Second)
	_, err := nx.LookupHost(context.Background(), "missing.test", "443")
	var le *LookupError
	if !errors.As(err, &le) || !le.NotFound || le.Timeout {
		t.Fatalf("NXDOMAIN: %#v", err)
	}
	p := failure.Explain(err)
	if p.Class != failure.DNS || !strings.Contains(p.Message, "missing.test does not exist (NXDOMAIN") ||
		!strings.Contains(p.Hint, "does not exist") || strings.Contains(p.Hint, "no answer") {
		t.Errorf("NXDOMAIN explained as %+v", p)
	}

	silent := startFakeDNS(t, &fakeDNS{silent: true})
	r := testResolver(t, silent, time.Second)
	start := time.Now()
	_, err = r.LookupHost(context.Background(), "quiet.test", "443")
	took := time.Since(start)
	if !errors.As(err, &le) || !le.Timeout || le.NotFound {
		t.Fatalf("silent: %#v", err)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("silent resolver: gave up after %v, want the 1s budget", took)
	}
	p = failure.Explain(err)
	if p.Class != failure.DNSTimeout || !strings.Contains(p.Message, "no answer from the resolver at ") ||
		!strings.Contains(p.Message, "within 1s") || !strings.Contains(p.Hint, "--dns-timeout") ||
		strings.Contains(p.Hint, "does not exist") {
		t.Errorf("silent explained as %+v", p)
	}
	start = time.Now()
	if _, err2 := r.LookupHost(context.Background(), "quiet.test", "80"); err2 != err || time.Since(start) > 100*time.Millisecond {
		t.Errorf("second lookup of a host that timed out: %v after %v, want the remembered failure at once", err2, time.Since(start))
	}
}

// An answer that comes after the resolver stopped waiting for its query is handed to the query
// sent in its place: same question, that query's ID.
func TestLateAnswerServesTheRetry(t *testing.T) {
	f := startFakeDNS(t, &fakeDNS{records: map[string]netip.Addr{"late.test.": netip.MustParseAddr("10.213.0.12")},
		delay: 300 * time.Millisecond, answerFirst: true})
	r := testResolver(t, f, 5*time.Second)
	ctx := context.Background()
	dialQuery := func(id uint16) net.Conn {
		c, err := r.dial(ctx, "udp", "192.0.2.1:53") // redirected to the fake server
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(net.PacketConn); !ok {
			t.Fatalf("the resolver's UDP conn is a %T, not a PacketConn: Go's resolver would frame it as TCP", c)
		}
		if _, err := c.Write(dnsQuery(id, "late.test.", 1)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := dialQuery(0x1111)
	c1.SetDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 512)
	if _, err := c1.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("first query read before its answer: %v", err)
	}
	c1.Close() // as Go's resolver does when its attempt times out

	c2 := dialQuery(0x2222) // the server never answers this one
	c2.SetDeadline(time.Now().Add(2 * time.Second))
	start := time.Now()
	n, err := c2.Read(buf)
	if err != nil {
		t.Fatalf("retry got no answer: %v (queries %d)", err, f.queries.Load())
	}
	id, key, ok := dnsQuestion(buf[:n])
	if !ok || id != 0x2222 || !strings.HasPrefix(key, "late.test.") || buf[2]&0x80 == 0 {
		t.Fatalf("retry got id %#x question %q", id, key)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("late answer took %v to reach the retry", d)
	}
	c2.Close()
}

// NO_PROXY is matched by net/http's rules, and the entry that matched is named.
func TestNoProxyMatch(t *testing.T) {
	for _, tc := range []struct {
		noProxy, url, want string
	}{
		{".test", "https://mirror.test/", ".test"},
		{".test", "https://test/", ""},
		{"test", "https://test/", "test"},
		{"test", "https://mirror.test/x", "test"},
		{"example.com", "https://notexample.com/", ""},
		{"*.example.com", "https://example.com/", ""},
		{"*.example.com", "https://a.example.com/", "*.example.com"},
		{" Example.COM:8443 ", "https://a.example.com/", ""},
		{" Example.COM:8443 ", "https://a.example.com:8443/", "example.com:8443"},
		{"example.com:443", "https://example.com/", "example.com:443"},
		{"10.0.0.0/8", "http://10.213.1.10/", "10.0.0.0/8"},
		{"10.0.0.0/8", "http://ten.test/", ""},
		{"10.213.1.10", "http://10.213.1.10:8080/", "10.213.1.10"},
		{"10.213.1.10:80", "http://10.213.1.10:8080/", ""},
		{"10.213.1.10:80", "http://10.213.1.10/", "10.213.1.10:80"},
		{"[2001:db8::1]:443", "https://[2001:db8::1]/", "[2001:db8::1]:443"},
		{"a.test, *", "https://go.dev/", "*"},
		{"", "https://go.dev/", ""},
		{",,  ,", "https://go.dev/", ""},
		{"other.test", "http://localhost:8080/", "localhost"},
		{"other.test", "http://127.0.0.2/", "loopback"},
		{"go.dev,.test", "https://sum.golang.org/", ""},
	} {
		u, _ := url.Parse(tc.url)
		got, ok := parseNoProxy(tc.noProxy).match(u)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NO_PROXY=%q, %s: matched %q %v, want %q", tc.noProxy, tc.url, got, ok, tc.want)
		}
	}
}

// A host with addresses of both families: when the first family's addresses fail, the other's
// are tried at once; when they are slow, alongside after fallbackDelay.
func TestDialAddrsFallsBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := New(Config{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// ::1 refuses (or is not there): 127.0.0.1 is tried without waiting for fallbackDelay.
	conn, err := c.dialAddrs(context.Background(), "tcp", []string{"::1", "127.0.0.1"}, port)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.Close()
	if d := time.Since(start); d > fallbackDelay {
		t.Errorf("fallback after %v, want at once after a refusal", d)
	}
	if _, err := c.dialAddrs(context.Background(), "tcp", []string{"127.0.0.1"}, "1"); failure.Classify(err) != failure.TCPRefused {
		t.Errorf("closed port: %v (%s)", err, failure.Classify(err))
	}
}
