package download

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Name resolution, once per host per run.
//
// Every connection the client makes (probes, retries, segments, the checksum database, the
// proxy) asks the run's resolver, which looks each host name up once and remembers the answer,
// or the failure, for the client's life: a slow resolver is paid once, not once per connection.
//
// A lookup has the DNS budget (Config.DNSTimeout, 10 s by default) however long the system
// resolver would wait on its own. Go's resolver gives each query the resolv.conf timeout
// (5 s by default) and then sends a new query on a new socket, so an answer to the first query
// that arrives after 5 s is thrown away, and a resolver that always takes 8 s never succeeds.
// glibc (curl, most programs) keeps listening and takes it. The resolver here does the same:
// a query's socket keeps listening after Go gave up on it, until the budget ends, and an answer
// that arrives late is handed to the query Go sent in its place (same question, its ID
// rewritten). Only answers to the query a socket sent, from the server it sent it to, are kept.
//
// A resolver that never answers costs one budget for the whole run, every host at once; one
// that says a name does not exist costs one round trip.

// DefaultDNSTimeout is how long a host name lookup may take by default: a resolver that answers
// within it never fails an install.
const DefaultDNSTimeout = 10 * time.Second

// resolver looks host names up once per client.
type resolver struct {
	net    *net.Resolver
	budget time.Duration
	guard  guardMode
	late   *lateBox
	// redirect, set by tests, sends every DNS query to this address instead of the servers of
	// resolv.conf.
	redirect string

	mu      sync.Mutex
	entries map[string]*lookup
}

// lookup is one host name's lookup, shared by every caller.
type lookup struct {
	done  chan struct{}
	addrs []string
	err   error
}

func newResolver(budget time.Duration, guard guardMode) *resolver {
	r := &resolver{budget: budget, guard: guard, late: newLateBox(), entries: map[string]*lookup{}}
	r.net = &net.Resolver{Dial: r.dial}
	return r
}

// LookupHost returns host's addresses, looking it up at most once per run. A caller whose ctx
// ends first gets its context's error; the lookup goes on for the others.
func (r *resolver) LookupHost(ctx context.Context, host, port string) ([]string, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	r.mu.Lock()
	l, ok := r.entries[host]
	if !ok {
		l = &lookup{done: make(chan struct{})}
		r.entries[host] = l
		go r.run(l, host, port)
	}
	r.mu.Unlock()
	select {
	case <-l.done:
		return l.addrs, l.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// run performs the lookup within the budget. Go's resolver may give up sooner (its attempts ×
// timeout from resolv.conf); while the budget lasts it is asked again, and the late answers of
// its earlier queries still count.
func (r *resolver) run(l *lookup, host, port string) {
	defer close(l.done)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), r.budget)
	defer cancel()
	var err error
	for {
		var addrs []string
		addrs, err = r.net.LookupHost(ctx, host)
		if err == nil && len(addrs) > 0 {
			l.addrs = addrs
			return
		}
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsTimeout || ctx.Err() != nil {
			break
		}
		// Go's resolver gave up before the budget did: ask again, after a pause that keeps a
		// resolver that fails at once from being asked in a loop.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		if ctx.Err() != nil {
			break
		}
	}
	l.err = r.lookupError(host, port, start, err)
}

// lookupError describes a failed lookup.
func (r *resolver) lookupError(host, port string, start time.Time, err error) error {
	le := &LookupError{Host: host, Port: port, Budget: r.budget, Err: err}
	var de *net.DNSError
	if errors.As(err, &de) {
		le.Server = de.Server
		le.NotFound = de.IsNotFound
		le.Timeout = de.IsTimeout
	}
	if errors.Is(err, context.DeadlineExceeded) {
		le.Timeout = true
	}
	if err == nil {
		le.NotFound = true // an answer without addresses
	}
	if le.Server == "" {
		le.Server = strings.Join(systemNameservers(), ", ")
	}
	if le.Timeout {
		le.Waited = time.Since(start)
	}
	return le
}

// dial is the Go resolver's way to its servers: the test network guard applies, and UDP
// sockets keep listening for late answers.
func (r *resolver) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if r.redirect != "" {
		address = r.redirect
	}
	if host, _, err := net.SplitHostPort(address); err == nil && !r.guard.allowsAddr(host) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("DNS server " + host + " refused by " + TestNetworkEnv)}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if uc, ok := c.(*net.UDPConn); ok {
		return &lateConn{UDPConn: uc, box: r.late, until: time.Now().Add(r.budget),
			pkts: make(chan []byte, 8), closed: make(chan struct{})}, nil
	}
	return c, nil
}

// systemNameservers lists the name servers of /etc/resolv.conf, for messages.
func systemNameservers() []string {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out
}

// lateBox holds answers that arrived after Go's resolver stopped waiting for them, by question.
type lateBox struct {
	mu      sync.Mutex
	answers map[string]lateAnswer
	changed chan struct{} // closed, and replaced, when an answer arrives
}

type lateAnswer struct {
	msg  []byte
	when time.Time
}

func newLateBox() *lateBox {
	return &lateBox{answers: map[string]lateAnswer{}, changed: make(chan struct{})}
}

func (b *lateBox) put(key string, msg []byte) {
	b.mu.Lock()
	b.answers[key] = lateAnswer{msg: msg, when: time.Now()}
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// take returns the late answer to key, as an answer to the query with this id, and a channel
// closed when another answer arrives.
func (b *lateBox) take(key string, id uint16, maxAge time.Duration) ([]byte, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.answers[key]
	if !ok || time.Since(a.when) > maxAge {
		return nil, b.changed
	}
	msg := bytes.Clone(a.msg)
	binary.BigEndian.PutUint16(msg, id)
	return msg, b.changed
}

// lateConn is a UDP socket to a name server that goes on listening, after the resolver closed
// it, for the answer to the query it sent, until until. Reads return the socket's packets, or a
// late answer another socket received to the same question.
type lateConn struct {
	*net.UDPConn // the net.PacketConn methods: Go's resolver speaks datagrams to a PacketConn
	box          *lateBox
	until        time.Time

	mu       sync.Mutex
	key      string // question of the query written
	id       uint16
	deadline time.Time
	started  bool
	answered bool  // a reply to the query was read
	readErr  error // the socket's error, once pkts is closed
	pkts     chan []byte
	closed   chan struct{}
	once     sync.Once
}

func (c *lateConn) Write(p []byte) (int, error) {
	id, key, ok := dnsQuestion(p)
	c.mu.Lock()
	if ok {
		c.id, c.key = id, key
	}
	start := !c.started
	c.started = true
	c.mu.Unlock()
	n, err := c.UDPConn.Write(p)
	if start {
		go c.listen()
	}
	return n, err
}

// listen reads the socket until it is closed, or until c.until once the resolver has closed c.
func (c *lateConn) listen() {
	defer c.UDPConn.Close()
	c.UDPConn.SetReadDeadline(c.until)
	for {
		buf := make([]byte, 64<<10)
		n, err := c.UDPConn.Read(buf)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			close(c.pkts)
			return
		}
		pkt := buf[:n]
		select {
		case <-c.closed:
			if c.keepLate(pkt) {
				return
			}
			continue
		default:
		}
		select {
		case c.pkts <- pkt:
		case <-c.closed:
			if c.keepLate(pkt) {
				return
			}
		}
	}
}

// keepLate puts pkt in the box if it answers the query c sent, which nobody reads any more.
func (c *lateConn) keepLate(pkt []byte) bool {
	c.mu.Lock()
	id, key, answered := c.id, c.key, c.answered
	c.mu.Unlock()
	rid, rkey, ok := dnsQuestion(pkt)
	if answered || !ok || key == "" || rid != id || rkey != key || pkt[2]&0x80 == 0 {
		return false
	}
	c.box.put(key, pkt)
	return true
}

func (c *lateConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		key, id, deadline := c.key, c.id, c.deadline
		c.mu.Unlock()
		var changed <-chan struct{}
		if key != "" {
			var msg []byte
			if msg, changed = c.box.take(key, id, time.Until(c.until)+time.Second); msg != nil {
				return copy(p, msg), nil
			}
		}
		n, err, again := c.wait(p, id, key, deadline, changed)
		if !again {
			return n, err
		}
	}
}

// wait waits for a packet, a late answer (again: look in the box) or the deadline.
func (c *lateConn) wait(p []byte, id uint16, key string, deadline time.Time, changed <-chan struct{}) (n int, err error, again bool) {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return 0, timeoutError(), false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case pkt, ok := <-c.pkts:
		if !ok {
			c.mu.Lock()
			err := c.readErr
			c.mu.Unlock()
			return 0, err, false
		}
		if rid, rkey, ok := dnsQuestion(pkt); ok && rid == id && rkey == key {
			c.mu.Lock()
			c.answered = true
			c.mu.Unlock()
		}
		return copy(p, pkt), nil, false
	case <-changed:
		return 0, nil, true
	case <-expired:
		return 0, timeoutError(), false
	}
}

func timeoutError() error {
	return &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
}

func (c *lateConn) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *lateConn) SetWriteDeadline(t time.Time) error { return nil }
func (c *lateConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// Close hands the socket to its listener, which keeps it for a late answer unless the query
// was answered or never sent.
func (c *lateConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		done := c.answered || !c.started
		c.mu.Unlock()
		if done {
			c.UDPConn.Close()
		}
	})
	return nil
}

// dnsQuestion returns a DNS message's ID and its first question (name in lower case, type and
// class) as a key. Questions are never compressed.
func dnsQuestion(m []byte) (id uint16, key string, ok bool) {
	if len(m) < 12 || binary.BigEndian.Uint16(m[4:6]) != 1 {
		return 0, "", false
	}
	var name []byte
	i := 12
	for {
		if i >= len(m) {
			return 0, "", false
		}
		l := int(m[i])
		if l == 0 {
			i++
			break
		}
		if l&0xC0 != 0 || i+1+l > len(m) {
			return 0, "", false
		}
		name = append(name, bytes.ToLower(m[i+1:i+1+l])...)
		name = append(name, '.')
		i += 1 + l
	}
	if i+4 > len(m) {
		return 0, "", false
	}
	return binary.BigEndian.Uint16(m[:2]), string(name) + string(m[i:i+4]), true
}
