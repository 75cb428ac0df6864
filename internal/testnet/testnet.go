package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Role names one of the three namespaces of a topology.
type Role int

const (
	// Client is where the code under test runs.
	Client Role = iota
	// Middle holds what sits between the client and the world: proxies and
	// resolvers. The client always reaches it.
	Middle
	// Origin holds the servers: nginx, Go HTTP(S) servers.
	Origin
)

var roles = [...]Role{Client, Middle, Origin}

func (r Role) String() string {
	switch r {
	case Client:
		return "cli"
	case Middle:
		return "mid"
	case Origin:
		return "origin"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Direct says what happens to the client's packets for the origin block;
// its zero value is DirectReject.
type Direct int

const (
	// DirectReject: the client has an "unreachable" route for the origin
	// block, so connecting fails at once with "no route to host".
	DirectReject Direct = iota
	// DirectDrop: the client's packets for the origin block go to the
	// middle namespace, which drops them silently (a blackhole rule for
	// what arrives from the client): connecting times out, as behind a
	// firewall that drops.
	DirectDrop
	// DirectAllow: the middle namespace forwards the client's packets to
	// the origin block.
	DirectAllow
)

func (d Direct) String() string {
	switch d {
	case DirectReject:
		return "reject"
	case DirectDrop:
		return "drop"
	case DirectAllow:
		return "allow"
	}
	return "Direct(" + strconv.Itoa(int(d)) + ")"
}

// The addresses every topology may use, and nothing else (plus loopback).
var allowedPrefix = netip.MustParsePrefix("10.213.0.0/16")

// Layout of 10.213.N.0/24 (offsets of the last byte).
var blocks = [...]struct {
	base, bits  int // the block on the namespace's loopback
	first, last int // the hosts Host hands out
}{
	Client: {192, 27, 200, 222},
	Middle: {128, 26, 130, 190},
	Origin: {0, 25, 10, 126},
}

const (
	cliLink    = 249 // 10.213.N.248/30: cli .249 <-> mid .250
	midCliLink = 250
	midOrgLink = 253 // 10.213.N.252/30: mid .253 <-> origin .254
	orgLink    = 254
)

const (
	nsPrefix = "gst-"
	lockDir  = "/run/gostrap-testnet"
	// ipTimeout bounds each run of ip(8).
	ipTimeout = 10 * time.Second
)

// staleRE matches the namespaces New creates, and only those.
var staleRE = regexp.MustCompile(`^gst-([0-9a-f]{6})-(cli|mid|origin)$`)

// Net is one topology: three network namespaces, their links and routes,
// and /etc/netns files. New makes one; t.Cleanup removes it.
type Net struct {
	id       string
	subnet   byte // N in 10.213.N.0/24
	lock     *os.File
	lockName string

	mu     sync.Mutex
	next   [len(roles)]int
	direct Direct
}

// New creates a topology for this test and registers its teardown with
// t.Cleanup. It skips the test as Require does. Every Net has its own
// namespaces, so parallel tests may each have one.
func New(t testing.TB) *Net {
	t.Helper()
	Require(t)
	sweepOnce.Do(func() {
		for _, err := range sweep() {
			t.Logf("testnet: sweeping stale namespaces: %v", err)
		}
	})
	n := &Net{}
	for _, r := range roles {
		n.next[r] = blocks[r].first
	}
	if err := n.takeLock(); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	// Registered before anything exists, so a setup that fails halfway is
	// undone too.
	t.Cleanup(func() {
		for _, err := range n.teardown() {
			t.Errorf("testnet: teardown: %v", err)
		}
	})
	if err := n.setup(); err != nil {
		t.Fatalf("testnet: setting up %s: %v", n, err)
	}
	t.Logf("testnet: %s", n)
	return n
}

func (n *Net) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("topology %s%s in %v (direct: %v)", nsPrefix, n.id, n.Prefix(), n.direct)
}

// Name is the name of the namespace with role r, as ip netns knows it.
func (n *Net) Name(r Role) string { return nsPrefix + n.id + "-" + r.String() }

// Prefix is the topology's 10.213.N.0/24.
func (n *Net) Prefix() netip.Prefix {
	return netip.PrefixFrom(n.addr(0), 24)
}

// Block is the part of Prefix that belongs to role r: every address in it
// is local to r's namespace (it sits on r's loopback), so a server may
// listen on any of them.
func (n *Net) Block(r Role) netip.Prefix {
	return netip.PrefixFrom(n.addr(blocks[r].base), blocks[r].bits)
}

// Host returns an address of r's block that Host has not returned before:
// a fresh "host" in r (origin: 10.213.N.10, .11, ...; middle: .130, ...;
// client: .200, ...). It panics when the block is used up.
func (n *Net) Host(r Role) netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.next[r] > blocks[r].last {
		panic(fmt.Sprintf("testnet: no more %v hosts in %v", r, n.Block(r)))
	}
	a := n.addr(n.next[r])
	n.next[r]++
	return a
}

// RoleOf says which namespace an address belongs to.
func (n *Net) RoleOf(a netip.Addr) (Role, bool) {
	for _, r := range roles {
		if n.Block(r).Contains(a) {
			return r, true
		}
	}
	return 0, false
}

func (n *Net) addr(last int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 213, n.subnet, byte(last)})
}

// hostPort fills in a server address: a fresh host of r when a has none,
// port when a has none. It fails the test if the address is not in r's
// block.
func (n *Net) hostPort(t testing.TB, r Role, a netip.AddrPort, port uint16) netip.AddrPort {
	t.Helper()
	host := a.Addr()
	if !host.IsValid() {
		host = n.Host(r)
	} else if !n.Block(r).Contains(host) {
		t.Fatalf("testnet: %v is not in the %v block %v", host, r, n.Block(r))
	}
	if a.Port() != 0 {
		port = a.Port()
	}
	return netip.AddrPortFrom(host, port)
}

// Allowed reports whether a is an address the tests may use at all:
// loopback or 10.213.0.0/16.
func Allowed(a netip.Addr) bool {
	return a.IsLoopback() || allowedPrefix.Contains(a.Unmap())
}

// SetDirect changes whether the client reaches the origin block directly.
// The middle and origin namespaces always reach each other, and the client
// always reaches the middle.
func (n *Net) SetDirect(t testing.TB, d Direct) {
	t.Helper()
	if err := n.setDirect(d); err != nil {
		t.Fatalf("testnet: direct %v: %v", d, err)
	}
}

func (n *Net) setDirect(d Direct) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	origin := n.Block(Origin).String()
	if d == DirectReject {
		if err := n.ip(Client, "route", "replace", "unreachable", origin); err != nil {
			return err
		}
	} else if n.direct == DirectReject {
		if err := n.ip(Client, "route", "del", "unreachable", origin); err != nil {
			return err
		}
	}
	rule := []string{"rule", "add", "pref", "100", "iif", "cli0", "to", origin, "blackhole"}
	if d == DirectDrop && n.direct != DirectDrop {
		if err := n.ip(Middle, rule...); err != nil {
			return err
		}
	} else if d != DirectDrop && n.direct == DirectDrop {
		rule[1] = "del"
		if err := n.ip(Middle, rule...); err != nil {
			return err
		}
	}
	n.direct = d
	return nil
}

func (n *Net) setup() error {
	a := func(last int) string { return n.addr(last).String() }
	for _, r := range roles {
		name := n.Name(r)
		if err := run("ip", "netns", "add", name); err != nil {
			return err
		}
		// Processes run with ip netns exec see these over /etc's files.
		// Until SetResolver says otherwise, a resolver in the namespace asks
		// 127.0.0.1, where nothing answers: no test reaches the host's
		// resolvers, or depends on them.
		if err := os.MkdirAll(etcDir(name), 0o755); err != nil {
			return err
		}
		if err := n.writeEtc(r, "resolv.conf", "nameserver 127.0.0.1\n"); err != nil {
			return err
		}
		if err := n.writeEtc(r, "hosts", hostsHeader); err != nil {
			return err
		}
		forward := r == Middle
		if err := n.Do(r, func() error { return sysctls(forward) }); err != nil {
			return err
		}
		if err := n.ip(r, "link", "set", "lo", "up"); err != nil {
			return err
		}
		if err := n.ip(r, "addr", "add", n.Block(r).String(), "dev", "lo"); err != nil {
			return err
		}
	}
	steps := []struct {
		r    Role
		args []string
	}{
		// The two ends of a veth get different interface indexes: when they
		// are equal (both 2, each first in its namespace), the kernel's
		// linkwatch treats the carrier event as not urgent and activates
		// the end brought up first up to a second later, dropping its
		// packets until then. See also waitLinks.
		{Client, []string{"link", "add", "mid0", "index", "10", "type", "veth", "peer", "name", "cli0", "index", "11", "netns", n.Name(Middle)}},
		{Middle, []string{"link", "add", "origin0", "index", "12", "type", "veth", "peer", "name", "mid0", "index", "13", "netns", n.Name(Origin)}},
		{Client, []string{"addr", "add", a(cliLink) + "/30", "dev", "mid0"}},
		{Middle, []string{"addr", "add", a(midCliLink) + "/30", "dev", "cli0"}},
		{Middle, []string{"addr", "add", a(midOrgLink) + "/30", "dev", "origin0"}},
		{Origin, []string{"addr", "add", a(orgLink) + "/30", "dev", "mid0"}},
		{Client, []string{"link", "set", "mid0", "up"}},
		{Middle, []string{"link", "set", "cli0", "up"}},
		{Middle, []string{"link", "set", "origin0", "up"}},
		{Origin, []string{"link", "set", "mid0", "up"}},
		// The client sends everything in the /24 to the middle; SetDirect
		// adds an unreachable route for the origin block on top.
		{Client, []string{"route", "add", n.Prefix().String(), "via", a(midCliLink)}},
		{Middle, []string{"route", "add", n.Block(Origin).String(), "via", a(orgLink)}},
		{Middle, []string{"route", "add", n.Block(Client).String(), "via", a(cliLink)}},
		{Origin, []string{"route", "add", n.Prefix().String(), "via", a(midOrgLink)}},
	}
	for _, s := range steps {
		if err := n.ip(s.r, s.args...); err != nil {
			return err
		}
	}
	n.direct = DirectAllow
	if err := n.setDirect(DirectReject); err != nil {
		return err
	}
	return n.waitLinks()
}

// waitLinks waits until the kernel has the veths up on both sides: a link
// brought up before its peer gets its queue when the carrier comes, a
// moment later, and drops packets until then.
func (n *Net) waitLinks() error {
	links := map[Role][]string{Client: {"mid0"}, Middle: {"cli0", "origin0"}, Origin: {"mid0"}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var down []string
		for _, r := range roles {
			out, err := output("ip", "-n", n.Name(r), "-o", "link", "show")
			if err != nil {
				return err
			}
			for _, l := range links[r] {
				up := false
				for _, line := range strings.Split(out, "\n") {
					if strings.Contains(line, " "+l+"@") {
						up = strings.Contains(line, "state UP") && !strings.Contains(line, "NO-CARRIER")
					}
				}
				if !up {
					down = append(down, n.Name(r)+"/"+l)
				}
			}
		}
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("links still down after 5s: %v", down)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sysctls configures the calling thread's network namespace: no IPv6 on
// the links (no link-local addresses, router solicitations or DAD: only
// the addresses this package hands out), and forwarding in the middle.
func sysctls(forward bool) error {
	w := func(path, v string) error { return os.WriteFile(path, []byte(v), 0o644) }
	// Missing when the kernel has no IPv6: nothing to turn off then.
	if err := w("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if forward {
		return w("/proc/sys/net/ipv4/ip_forward", "1")
	}
	return nil
}

// teardown kills what still runs in the namespaces, deletes them (their
// veths go with them) and their /etc/netns directories, then the lock.
func (n *Net) teardown() []error {
	var errs []error
	for _, r := range roles {
		name := n.Name(r)
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err != nil {
			os.RemoveAll(etcDir(name))
			continue
		}
		errs = append(errs, killIn(name)...)
		if err := run("ip", "netns", "del", name); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(etcDir(name)); err != nil {
			errs = append(errs, err)
		}
	}
	if n.lock != nil {
		os.Remove(n.lockName)
		n.lock.Close()
	}
	return errs
}

// killIn sends SIGKILL to every process in namespace name but this one (one
// of its threads may be visiting the namespace: see Do).
func killIn(name string) []error {
	out, err := output("ip", "netns", "pids", name)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil {
			if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("kill %d in %s: %w", pid, name, err))
			}
		}
	}
	return errs
}

// takeLock picks the topology's id and subnet and creates the lock file
// that marks them in use: /run/gostrap-testnet/<id>.lock, which holds the
// subnet. The file is locked before it gets its name, so a sweep never
// finds it unlocked while its owner lives, and is never replaced.
//
// Namespaces do not share addresses, so two topologies on one subnet would
// not collide; distinct subnets keep logs and errors unambiguous.
func (n *Net) takeLock() error {
	subnetMu.Lock()
	defer subnetMu.Unlock()
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return err
	}
	used := map[byte]bool{}
	if ents, err := os.ReadDir(lockDir); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".lock") {
				b, _ := os.ReadFile(filepath.Join(lockDir, e.Name()))
				if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v >= 0 && v < 256 {
					used[byte(v)] = true
				}
			}
		}
	}
	var free []byte
	for v := 1; v < 255; v++ {
		if !used[byte(v)] {
			free = append(free, byte(v))
		}
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	n.subnet = b[3]
	if len(free) > 0 {
		n.subnet = free[int(b[3])%len(free)]
	}
	f, err := os.CreateTemp(lockDir, "tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	ok, err := tryLock(f)
	if err == nil && !ok {
		err = errors.New("fresh lock file already locked")
	}
	if err == nil {
		_, err = fmt.Fprintf(f, "%d\n", n.subnet)
	}
	for try := 0; err == nil; try++ {
		n.id = hex.EncodeToString(b[:3])
		n.lockName = filepath.Join(lockDir, n.id+".lock")
		// A link, unlike a rename, never replaces another topology's lock.
		if err = os.Link(f.Name(), n.lockName); err == nil {
			n.lock = f
			return nil
		}
		if errors.Is(err, fs.ErrExist) && try < 10 {
			if _, err = rand.Read(b[:3]); err == nil {
				continue
			}
		}
	}
	f.Close()
	return fmt.Errorf("lock: %w", err)
}

// subnetMu makes picking a subnet and taking it one step within a process.
var subnetMu sync.Mutex

var sweepOnce sync.Once

// sweep removes what topologies of dead processes left behind (a test
// binary that times out exits without running its cleanups): namespaces
// named like New's whose lock file is missing or no longer locked, the
// processes in them and their /etc/netns directories. Nothing without
// this package's prefix is touched.
func sweep() []error {
	var errs []error
	stale := map[string]bool{}
	isStale := func(id string) bool {
		if s, ok := stale[id]; ok {
			return s
		}
		s := true
		if f, err := os.Open(filepath.Join(lockDir, id+".lock")); err == nil {
			ok, err := tryLock(f)
			s = ok && err == nil
			f.Close()
		}
		stale[id] = s
		return s
	}
	var names []string
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	if ents, err := os.ReadDir("/etc/netns"); err == nil {
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		m := staleRE.FindStringSubmatch(name)
		if m == nil || !isStale(m[1]) {
			continue
		}
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
			errs = append(errs, killIn(name)...)
			if err := run("ip", "netns", "del", name); err != nil {
				errs = append(errs, err)
			}
		}
		if err := os.RemoveAll(etcDir(name)); err != nil {
			errs = append(errs, err)
		}
	}
	if ents, err := os.ReadDir(lockDir); err == nil {
		for _, e := range ents {
			id, ok := strings.CutSuffix(e.Name(), ".lock")
			if ok && isStale(id) {
				os.Remove(filepath.Join(lockDir, e.Name()))
			}
		}
	}
	return errs
}

// Do runs fn on an OS thread that has joined r's network namespace. Use it
// to create sockets there (they keep the namespace for life); Listen,
// ListenPacket and DialContext are built on it. fn must not start
// goroutines that expect to be in the namespace.
func (n *Net) Do(r Role, fn func() error) error {
	return inNetns(filepath.Join("/run/netns", n.Name(r)), fn)
}

// Listen opens a listener in r's namespace: for an address of r's block,
// or 127.0.0.1 (r's own loopback).
func (n *Net) Listen(r Role, network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(r, func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is Listen for packets (UDP).
func (n *Net) ListenPacket(r Role, network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(r, func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// DialContext connects from r's namespace. The address must be an IP
// literal that Allowed accepts: there is no name resolution here (the test
// process's resolver is the host's). To drive an http.Transport from the
// client namespace:
//
//	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
//		return n.DialContext(ctx, testnet.Client, network, addr)
//	}}
func (n *Net) DialContext(ctx context.Context, r Role, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !Allowed(a) {
		return nil, fmt.Errorf("testnet: dial %s: only IP literals in %v or loopback", address, allowedPrefix)
	}
	var c net.Conn
	err = n.Do(r, func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Command returns a command that runs name in r's namespace, through
// "ip netns exec": it sees /etc/netns/<namespace>/resolv.conf and hosts
// (SetResolver, SetHosts) as /etc/resolv.conf and /etc/hosts. Its
// environment is this process's without the proxy variables
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, ALL_PROXY, any case): append to
// cmd.Env to set them. It runs in its own process group and is killed if
// the test process dies.
func (n *Net) Command(r Role, name string, args ...string) *exec.Cmd {
	return n.CommandContext(context.Background(), r, name, args...)
}

// CommandContext is Command with a context: when ctx is done the command's
// whole process group is killed, and Wait returns at most 5 s later even if
// something still holds its output open.
func (n *Net) CommandContext(ctx context.Context, r Role, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name(r), name}, args...)...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", programEnv:
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Records maps host names to addresses, for SetHosts and the resolvers.
// Every address must be one Allowed accepts.
type Records map[string][]netip.Addr

func (rs Records) check() error {
	for name, addrs := range rs {
		if name == "" || strings.ContainsAny(name, " \t\n#") {
			return fmt.Errorf("bad host name %q", name)
		}
		for _, a := range addrs {
			if !Allowed(a) {
				return fmt.Errorf("%s: %v is outside %v and loopback", name, a, allowedPrefix)
			}
		}
	}
	return nil
}

// hostsFile renders records in /etc/hosts format, sorted.
func (rs Records) hostsFile() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(rs)) {
		for _, a := range rs[name] {
			fmt.Fprintf(&b, "%s %s\n", a, name)
		}
	}
	return b.String()
}

const hostsHeader = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"

// SetHosts replaces the /etc/hosts that processes started in r from now on
// see (the localhost lines stay). Squid reads it at startup.
func (n *Net) SetHosts(t testing.TB, r Role, hosts Records) {
	t.Helper()
	if err := hosts.check(); err != nil {
		t.Fatalf("testnet: SetHosts: %v", err)
	}
	if err := n.writeEtc(r, "hosts", hostsHeader+hosts.hostsFile()); err != nil {
		t.Fatalf("testnet: SetHosts: %v", err)
	}
}

// SetResolver points the /etc/resolv.conf that processes started in r from
// now on see at these name servers (port 53: resolv.conf has no ports),
// with the resolvers' default timeouts. No servers: 127.0.0.1, where
// nothing answers unless the test put something there.
func (n *Net) SetResolver(t testing.TB, r Role, servers ...netip.Addr) {
	t.Helper()
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(servers) == 0 {
		b.WriteString("nameserver 127.0.0.1\n")
	}
	n.SetResolvConf(t, r, b.String())
}

// SetResolvConf is SetResolver with the whole file given, for options:
// "nameserver 10.213.N.130\noptions timeout:1 attempts:1 use-vc\n".
// Every nameserver must be an address Allowed accepts.
func (n *Net) SetResolvConf(t testing.TB, r Role, content string) {
	t.Helper()
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err != nil || !Allowed(a) {
				t.Fatalf("testnet: SetResolvConf: nameserver %q is outside %v and loopback", f[1], allowedPrefix)
			}
		}
	}
	if err := n.writeEtc(r, "resolv.conf", content); err != nil {
		t.Fatalf("testnet: SetResolvConf: %v", err)
	}
}

func etcDir(name string) string { return filepath.Join("/etc/netns", name) }

// writeEtc replaces a file of r's /etc/netns directory by renaming a new
// one over it: processes that already run keep the old one (ip netns exec
// bind-mounted it), new ones see the new one, nobody a partial one.
func (n *Net) writeEtc(r Role, file, content string) error {
	dir := etcDir(n.Name(r))
	f, err := os.CreateTemp(dir, "."+file+"-")
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, file))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// ip runs ip(8) in r's namespace.
func (n *Net) ip(r Role, args ...string) error {
	return run("ip", append([]string{"-n", n.Name(r)}, args...)...)
}

func run(name string, args ...string) error {
	_, err := output(name, args...)
	return err
}

func output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Require skips the test unless this machine can run topologies: Linux,
// root with CAP_SYS_ADMIN and CAP_NET_ADMIN, and ip(8) from iproute2 with
// netns support. With GOSTRAP_TESTNET=require in the environment it fails
// the test instead, for CI that must not pass by skipping.
func Require(t testing.TB) {
	t.Helper()
	requireOnce.Do(func() { requireMsg = checkRequire() })
	if requireMsg != "" {
		skip(t, requireMsg)
	}
}

var (
	requireOnce sync.Once
	requireMsg  string
)

func checkRequire() string {
	if !supported {
		return "testnet: network namespaces need Linux, not " + runtime.GOOS
	}
	if ok, why := privileged(); !ok {
		return "testnet: needs root to create network namespaces: " + why
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "testnet: needs ip(8): install iproute2"
	}
	if err := run("ip", "netns", "list"); err != nil {
		return "testnet: ip netns does not work here: " + err.Error()
	}
	// ip netns exec bind-mounts the namespace's files over these: it needs
	// them to exist.
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if _, err := os.Stat(f); err != nil {
			return "testnet: ip netns exec needs " + f + " to exist, to put the namespace's over it: " + err.Error()
		}
	}
	return ""
}

func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("GOSTRAP_TESTNET") == "require" {
		t.Fatal(msg + " (and GOSTRAP_TESTNET=require)")
	}
	t.Skip(msg)
}
