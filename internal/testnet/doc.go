// Package testnet runs gostrap's tests against the real programs its users
// meet (squid, nginx, dnsmasq) and against misbehaving resolvers, inside
// network namespaces that each test creates and removes.
//
// # Topology
//
// New creates three namespaces, named gst-<id>-cli, gst-<id>-mid and
// gst-<id>-origin (<id>: six random hex digits), joined by veth pairs, on a
// /24 of 10.213.0.0/16 that no other live topology on the machine has:
//
//	          10.213.N.248/30                     10.213.N.252/30
//	Client .249 [mid0]----[cli0] .250  Middle  .253 [origin0]----[mid0] .254  Origin
//	lo 10.213.N.192/27                 lo 10.213.N.128/26                     lo 10.213.N.0/25
//	hosts .200 - .222                  hosts .130 - .190                      hosts .10 - .126
//	code under test                    squid, dnsmasq, Go resolvers           nginx, Go HTTP(S)
//	(Command, ProgramCommand)          forwards client -> origin,             servers
//	                                   if SetDirect allows
//
// Each namespace's block sits on its loopback, so every address in it is
// local there: Host hands out fresh ones ("origin hosts" 10.213.N.10, .11,
// .12, ...) and a server may listen on any. The client always reaches the
// middle and the middle the origin. Whether the client reaches the origin
// on its own is SetDirect's: DirectReject (the default: "no route to
// host" at once), DirectDrop (the middle drops the packets: connections
// time out) or DirectAllow. So "only the proxy may go out" is the default.
//
// # Rules
//
// Every address a topology uses is in 10.213.0.0/16, on links between its
// own namespaces, or loopback; the namespaces have no other interface and
// no route out, IPv6 is off on the links, and nothing here contacts
// anything else or scans. Functions that take addresses from the test
// (Records, SetResolvConf, DialContext) refuse others. Every wait has a
// deadline. Everything a test starts is stopped at its cleanup: daemons
// with their process group, then every process left in the namespaces,
// then the namespaces (their veths go with them) and /etc/netns/<name>.
// Children get SIGKILL from the kernel if the test process dies, and a
// test binary that times out, whose cleanups never run, leaves namespaces
// that the next New on the machine sweeps: each topology holds a lock
// (/run/gostrap-testnet/<id>.lock) for its life, and namespaces named
// gst-<id>-(cli|mid|origin) whose lock is free are removed. Nothing
// without that exact form is touched.
//
// # Running code in a namespace
//
// Command runs a program in a namespace through "ip netns exec", which
// puts /etc/netns/<name>/resolv.conf and hosts over /etc's: SetResolver,
// SetResolvConf and SetHosts write them (new namespaces get a resolver at
// 127.0.0.1, where nothing answers, and only localhost in hosts, so no
// test sees the host's). A Go program run so resolves with them, as
// gostrap's binary does. To run Go client code of the test itself there,
// register it as a Program and run it with ProgramCommand: the test binary
// re-executes itself in the namespace (as testscript does), so the code
// gets the namespace's files through the same mechanism; the test process
// cannot, as its resolver reads the host's files and caches them.
//
// Go servers (Serve, ServeTLS, StartSilentDNS, StartDelayDNS) run in the
// test process instead: Listen opens their sockets from an OS thread that
// has joined the namespace with setns(2) and then left it (Do), and a
// socket stays in the namespace it was made in. Handlers are then plain
// closures that can record what they see and share state with the test,
// with no helper process to start, synchronise with or clean up.
//
// # Programs
//
// StartSquid, StartDnsmasq and StartNginx run the Debian packages
// squid-openssl, dnsmasq-base and nginx-light, each with a configuration,
// pid file and logs of its own in a temporary directory (never /etc's),
// and wait until it accepts connections; when the test fails, their logs
// are shown. Require skips a test on a machine that cannot create
// namespaces (not Linux, not root), and Need (which the Start functions
// call) one where a program is missing, naming the package to install.
// With GOSTRAP_TESTNET=require in the environment both fail the test
// instead, for CI that must not pass by skipping.
//
// # Use from another package's tests
//
//	func TestMain(m *testing.M) { testnet.Main(m) } // for ProgramCommand
//
//	var fetch = testnet.Register("fetch", func(args []string) int {
//		resp, err := http.Get(args[0]) // HTTPS_PROXY from the environment
//		...
//	})
//
//	func TestBehindSquid(t *testing.T) {
//		t.Parallel()
//		n := testnet.New(t)
//		ca := testnet.NewCA(t, "origin CA")
//		web := n.StartNginx(t, testnet.NginxOptions{Root: dir, Cert: ca.Issue(t, "go.test")})
//		dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"go.test": {web.Host}}})
//		n.SetResolver(t, testnet.Middle, dns.Addr.Addr()) // squid resolves with dnsmasq
//		squid := n.StartSquid(t, testnet.SquidOptions{Users: map[string]string{"u": "p@ss#"}})
//		cmd := n.ProgramCommand(testnet.Client, fetch, "https://go.test/dl/")
//		cmd.Env = append(cmd.Env, "HTTPS_PROXY="+squid.AuthURL("u", "p@ss#"), "SSL_CERT_FILE="+ca.CertFile)
//		out, err := cmd.CombinedOutput()
//		...
//	}
//
// A gostrap binary built by the test runs the same way, with Command.
package testnet
