//go:build linux

package gostrap

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/testnet"
	"github.com/gostrap/gostrap/mirror"
)

// DNSBenchEnv names the file TestDNSDelayBench writes its measurements to; without it the
// benchmark is skipped. bench/dnsdelay runs it and writes docs/performance.md's section.
const DNSBenchEnv = "GOSTRAP_BENCH_DNS_OUT"

// DNSBenchSample is one timed run of one tool behind one resolver.
type DNSBenchSample struct {
	Delay   string  `json:"delay"` // "none", "2.5s", ..., "silent"
	Tool    string  `json:"tool"`  // gostrap, curl, go
	Seconds float64 `json:"seconds"`
	Exit    int     `json:"exit"`
	// Queries is how many DNS queries reached the resolver during the run.
	Queries int `json:"queries"`
}

// TestDNSDelayBench times, in the client namespace of a topology whose resolver answers after
// a delay (a forwarder of the test's own in front of dnsmasq) or never, three programs that
// need go.test: gostrap install (index, archive, checksum database), curl fetching the archive,
// and the go command downloading the toolchain module through the test's GOPROXY with its
// checksum database (go mod download, GOTOOLCHAIN=local). All three use the namespace's
// resolv.conf, with its default timeouts.
func TestDNSDelayBench(t *testing.T) {
	out := os.Getenv(DNSBenchEnv)
	if out == "" {
		t.Skip("a benchmark: set " + DNSBenchEnv + "=FILE (bench/dnsdelay does)")
	}
	testnet.Need(t, "dnsmasq")
	rounds, _ := strconv.Atoi(os.Getenv("GOSTRAP_BENCH_DNS_ROUNDS"))
	rounds = max(rounds, 1)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed: apt-get install curl")
	}
	var samples []DNSBenchSample
	for _, delay := range []time.Duration{0, 2500 * time.Millisecond, 3500 * time.Millisecond, 8 * time.Second, -1} {
		label := "none"
		switch {
		case delay > 0:
			label = strconv.FormatFloat(delay.Seconds(), 'f', -1, 64) + "s"
		case delay < 0:
			label = "silent"
		}
		n := testnet.New(t)
		n.SetDirect(t, testnet.DirectAllow)
		ca := testnet.NewCA(t, "gostrap origin CA")
		host := n.Host(testnet.Origin)
		n.ServeTLS(t, testnet.Origin, netip.AddrPortFrom(host, 443), originHandler(), ca.Issue(t, "go.test"))
		dns := n.StartDnsmasq(t, testnet.DnsmasqOptions{Records: testnet.Records{"go.test": {host}}})
		var resolver *testnet.DNSServer
		switch {
		case delay > 0:
			resolver = n.StartDelayDNS(t, netip.AddrPort{}, dns.Addr, delay)
		case delay < 0:
			resolver = n.StartSilentDNS(t, netip.AddrPort{})
		default:
			resolver = n.StartDelayDNS(t, netip.AddrPort{}, dns.Addr, 0)
		}
		n.SetResolver(t, testnet.Client, resolver.Addr.Addr())
		e := &netEnv{n: n, origin: "https://go.test", ca: ca}
		archive := "https://go.test/dl/" + mirror.Host().ArchiveName("go"+netVersion)
		module := "golang.org/toolchain@" + mirror.Host().ToolchainVersion("go"+netVersion)

		for round := range rounds {
			for _, tool := range []string{"gostrap", "curl", "go"} {
				tmp := t.TempDir()
				var args, env []string
				switch tool {
				case "gostrap":
					args, env = []string{gostrapBinary(t), "install", netVersion, "--quiet"}, e.env(t)
				case "curl":
					args = []string{curl, "-sS", "-o", filepath.Join(tmp, "archive"), "--cacert", ca.CertFile, archive}
				case "go":
					args = []string{gobin, "mod", "download", "-json", module}
					env = []string{"HOME=" + tmp, "GOPATH=" + filepath.Join(tmp, "gopath"), "GOMODCACHE=" + filepath.Join(tmp, "mod"),
						"GOCACHE=" + filepath.Join(tmp, "cache"), "GOPROXY=" + e.origin, "GOSUMDB=" + fixture.VKey,
						"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GONOSUMDB=", "GOPRIVATE=", "SSL_CERT_FILE=" + ca.CertFile}
				}
				before := resolver.Queries()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				cmd := n.CommandContext(ctx, testnet.Client, args[0], args[1:]...)
				cmd.Env = append(cmd.Env, env...)
				cmd.Dir = tmp
				start := time.Now()
				outb, err := cmd.CombinedOutput()
				took := time.Since(start)
				cancel()
				code := 0
				if err != nil {
					code = -1
					if cmd.ProcessState != nil {
						code = cmd.ProcessState.ExitCode()
					}
				}
				s := DNSBenchSample{Delay: label, Tool: tool, Seconds: took.Seconds(), Exit: code, Queries: resolver.Queries() - before}
				t.Logf("round %d, resolver %s: %s exit %d in %.2fs, %d queries", round+1, label, tool, code, s.Seconds, s.Queries)
				if code != 0 && delay >= 0 && delay < 10*time.Second {
					t.Logf("%s", lastLines(string(outb), 5))
				}
				samples = append(samples, s)
			}
		}
	}
	data, _ := json.MarshalIndent(samples, "", "  ")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := []rune(s)
	count := 0
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == '\n' {
			count++
			if count > n {
				return string(lines[i+1:])
			}
		}
	}
	return s
}
