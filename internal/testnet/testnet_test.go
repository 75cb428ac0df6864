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
	"os"
	"path/filepath"
	"strings"
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
	if res := get(t, n, "", url, "-timeout=2s"); res.Err == "" || !strings.Contains(res.Err, "no route to host") {
		t.Errorf("direct GET %s: %+v, want no route to host", url, res)
	}
	res := get(t, n, squid.URL(), url)
	if res.Status != 200 || res.Body != "hello from origin\n" {
		t.Fatalf("GET %s through squid: %+v", url, res)
	}
	if log := strings.Join(squid.AccessLogLines(t), "\n"); !strings.Contains(log, url) {
		t.Errorf("squid's access log does not show %s:\n%s", url, log)
	}
	_ = netip.Addr{}
}
