package probe_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/internal/probe"
)

func TestMain(m *testing.M) {
	os.Setenv(download.TestNetworkEnv, "loopback")
	os.Exit(m.Run())
}

func newClient(t *testing.T, cfg download.Config) *download.Client {
	t.Helper()
	if cfg.Proxy == nil {
		cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	c, err := download.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ok200(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[]")) }

func port(u string) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"))
	return p
}

// Each failure the guide walks through by hand is classified from the real error values, and
// its hint names the remedy.
func TestProbeClassification(t *testing.T) {
	ca := mirrortest.NewCA("Test Root CA")
	caFile := ca.WriteFile(t.TempDir())
	now := time.Now()
	tlsServer := func(o mirrortest.LeafOptions, cfg *tls.Config) string {
		return mirrortest.TLSServer(t, http.HandlerFunc(ok200), ca.Leaf(o), cfg).URL
	}
	plain := httptest.NewServer(http.HandlerFunc(ok200))
	defer plain.Close()
	silent, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()

	for _, tc := range []struct {
		name   string
		url    string
		cfg    download.Config
		class  failure.Class
		hint   []string // substrings the hint must contain
		nohint []string // and must not
		msg    string   // substring of the message
	}{
		{name: "dns", url: "https://go.invalid/dl/", class: failure.DNS, hint: []string{"DNS", "--resolve"}},
		{name: "refused", url: mirrortest.ClosedURL(), class: failure.TCPRefused, hint: []string{"firewall", "--mirror"}},
		{name: "blackhole", url: "http://" + mirrortest.Blackhole(t) + "/", class: failure.TCPTimeout, hint: []string{"HTTPS_PROXY"}},
		{name: "never answers", url: "https://" + silent.Addr().String() + "/", class: failure.TCPTimeout},
		{name: "self-signed", url: tlsServer(mirrortest.LeafOptions{}, nil), class: failure.TLSUnknownAuthority,
			hint: []string{"--ca-file", "update-ca-certificates", "update-ca-trust"}},
		{name: "expired", url: tlsServer(mirrortest.LeafOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}, nil),
			cfg: download.Config{CAFile: caFile}, class: failure.TLSExpired, hint: []string{"expired on", "server's clock agrees"},
			nohint: []string{"timedatectl"}},
		{name: "not yet valid by minutes", url: tlsServer(mirrortest.LeafOptions{NotBefore: now.Add(20 * time.Minute), NotAfter: now.Add(48 * time.Hour)}, nil),
			cfg: download.Config{CAFile: caFile}, class: failure.TLSNotYetValid, hint: []string{"valid only from", "server's clock agrees"},
			nohint: []string{"timedatectl"}},
		{name: "other host", url: tlsServer(mirrortest.LeafOptions{Hosts: []string{"other.test"}}, nil),
			cfg: download.Config{CAFile: caFile}, class: failure.TLSHostname, hint: []string{"is for other.test"}},
		{name: "TLS 1.0 only", url: tlsServer(mirrortest.LeafOptions{}, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}),
			cfg: download.Config{CAFile: caFile}, class: failure.TLSProtocol, hint: []string{"TLS 1.2"}, msg: "offers only TLS 1.0"},
		{name: "plain HTTP on https", url: strings.Replace(plain.URL, "http:", "https:", 1), class: failure.TLSPlaintext, hint: []string{"plain HTTP"}},
		{name: "404 on the index", url: notFound.URL + "/dl/?mode=json&include=all", class: failure.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p := probe.URL(context.Background(), newClient(t, tc.cfg), tc.url, probe.Options{StageTimeout: 500 * time.Millisecond,
				Accept: func(s int) bool { return s == 200 }})
			if p.OK || p.Error == nil {
				t.Fatalf("probe OK: %+v", p)
			}
			if p.Error.Class != tc.class {
				t.Fatalf("class %s, want %s: %s", p.Error.Class, tc.class, p.Error.Message)
			}
			for _, h := range tc.hint {
				if !strings.Contains(p.Error.Hint, h) {
					t.Errorf("hint lacks %q: %s", h, p.Error.Hint)
				}
			}
			for _, h := range tc.nohint {
				if strings.Contains(p.Error.Hint, h) {
					t.Errorf("hint has %q: %s", h, p.Error.Hint)
				}
			}
			if tc.msg != "" && !strings.Contains(p.Error.Message, tc.msg) {
				t.Errorf("message lacks %q: %s", tc.msg, p.Error.Message)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("probe took %v", d)
			}
		})
	}
}

// The TLS stage shows what openssl s_client would, even for a chain that does not verify.
func TestProbeTLSDetails(t *testing.T) {
	ca := mirrortest.NewCA("Test Root CA")
	srv := mirrortest.TLSServer(t, http.HandlerFunc(ok200), ca.Leaf(mirrortest.LeafOptions{Hosts: []string{"localhost", "127.0.0.1", "dl.test"}}), nil)
	for _, caFile := range []string{"", ca.WriteFile(t.TempDir())} {
		p := probe.URL(context.Background(), newClient(t, download.Config{CAFile: caFile}), srv.URL, probe.Options{})
		if p.TLS == nil || p.TLS.Version == "" || p.TLS.Cipher == "" || len(p.TLS.Chain) != 2 {
			t.Fatalf("TLS info: %+v", p.TLS)
		}
		leaf := p.TLS.Chain[0]
		if leaf.Subject != "CN=localhost" || !strings.Contains(leaf.Issuer, "Test Root CA") || len(leaf.SANs) != 3 || leaf.NotAfter.IsZero() {
			t.Errorf("leaf: %+v", leaf)
		}
		if p.TLS.Verified != (caFile != "") || p.OK != (caFile != "") {
			t.Errorf("ca-file %q: verified %v ok %v", caFile, p.TLS.Verified, p.OK)
		}
	}
}

// A public site's certificate issued by a private CA is TLS inspection; a clock far from the
// server's is reported as such.
func TestProbeInspectionAndClock(t *testing.T) {
	corp := mirrortest.NewCA("Corp Inspection CA")
	srv := mirrortest.TLSServer(t, http.HandlerFunc(ok200), corp.Leaf(mirrortest.LeafOptions{Hosts: []string{"go.dev"}}), nil)
	pin := "go.dev:" + port(srv.URL) + ":127.0.0.1"
	u := "https://go.dev:" + port(srv.URL) + "/dl/"
	p := probe.URL(context.Background(), newClient(t, download.Config{Resolve: []string{pin}}), u, probe.Options{Public: true})
	if p.Error == nil || p.Error.Class != failure.TLSUnknownAuthority || !strings.Contains(p.Error.Hint, "TLS-inspecting proxy") ||
		!strings.Contains(p.Error.Hint, "Corp Inspection CA") {
		t.Fatalf("inspection: %+v", p.Error)
	}
	// With the corporate CA given, the install works and the probe still says who re-signs.
	p = probe.URL(context.Background(), newClient(t, download.Config{Resolve: []string{pin}, CAFile: corp.WriteFile(t.TempDir())}), u, probe.Options{Public: true})
	if !p.OK || p.TLS.InspectedBy != "Corp Inspection CA" {
		t.Fatalf("with --ca-file: ok %v inspected by %q", p.OK, p.TLS.InspectedBy)
	}

	// A certificate that expired a year ago by this machine's clock, from a server whose Date
	// says it is well within the validity: this clock is ahead.
	ca := mirrortest.NewCA("Test Root CA")
	now := time.Now()
	serverNow := now.Add(-400 * 24 * time.Hour)
	dated := mirrortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", serverNow.UTC().Format(http.TimeFormat))
	}), ca.Leaf(mirrortest.LeafOptions{NotBefore: serverNow.Add(-30 * 24 * time.Hour), NotAfter: serverNow.Add(60 * 24 * time.Hour)}), nil)
	p = probe.URL(context.Background(), newClient(t, download.Config{CAFile: ca.WriteFile(t.TempDir())}), dated.URL, probe.Options{})
	if p.Error == nil || p.Error.Class != failure.TLSExpired || !strings.Contains(p.Error.Hint, "clock is") ||
		!strings.Contains(p.Error.Hint, "ahead of the server's") {
		t.Fatalf("clock skew: %+v", p.Error)
	}
}

func TestProbeThroughProxy(t *testing.T) {
	ca := mirrortest.NewCA("Test Root CA")
	srv := mirrortest.TLSServer(t, http.HandlerFunc(ok200), ca.Leaf(mirrortest.LeafOptions{Hosts: []string{"dl.example.test"}}), nil)
	target := "https://dl.example.test:" + port(srv.URL) + "/"
	for _, tc := range []struct {
		name  string
		proxy *mirrortest.HTTPProxy
		user  string
		class failure.Class
		hint  string
	}{
		{"auth demanded", &mirrortest.HTTPProxy{Auth: "u:p"}, "", failure.ProxyAuth, "HTTPS_PROXY=http://USER:PASS@"},
		{"auth given", &mirrortest.HTTPProxy{Auth: "u:p"}, "u:p", "", ""},
		{"CONNECT refused", &mirrortest.HTTPProxy{RefuseConnect: true}, "", failure.ProxyConnect, "CONNECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := httptest.NewServer(tc.proxy)
			defer ps.Close()
			pu, _ := url.Parse(ps.URL)
			if tc.user != "" {
				pu.User = url.UserPassword(strings.Split(tc.user, ":")[0], strings.Split(tc.user, ":")[1])
			}
			c := newClient(t, download.Config{Proxy: http.ProxyURL(pu), CAFile: ca.WriteFile(t.TempDir())})
			p := probe.URL(context.Background(), c, target, probe.Options{StageTimeout: time.Second})
			if tc.class == "" {
				if !p.OK || p.TLS == nil || !p.TLS.Verified {
					t.Fatalf("%+v %+v", p.Error, p.TLS)
				}
				return
			}
			if p.Error == nil || p.Error.Class != tc.class || !strings.Contains(p.Error.Hint, tc.hint) {
				t.Fatalf("%+v", p.Error)
			}
			if p.Proxy == "" || strings.Contains(p.Proxy, "p@") {
				t.Errorf("proxy shown as %q", p.Proxy)
			}
		})
	}
	// A proxy nobody listens on: the proxy stage fails, as the proxy's failure, naming it.
	dead, _ := url.Parse(strings.TrimSuffix(mirrortest.ClosedURL(), "/"))
	p := probe.URL(context.Background(), newClient(t, download.Config{Proxy: http.ProxyURL(dead)}), target, probe.Options{StageTimeout: time.Second})
	if p.Error == nil || p.Error.Class != failure.ProxyConnect || !strings.Contains(p.Error.Hint, "refused") ||
		!strings.Contains(p.Error.Hint, dead.String()) || len(p.Stages) != 1 || p.Stages[0].Name != "proxy" || p.Stages[0].OK {
		t.Fatalf("dead proxy: %+v %+v", *p.Error, p.Stages)
	}
	// A proxy that is up says so on its line.
	up := httptest.NewServer(&mirrortest.HTTPProxy{})
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	p = probe.URL(context.Background(), newClient(t, download.Config{Proxy: http.ProxyURL(upURL), CAFile: ca.WriteFile(t.TempDir())}), target, probe.Options{StageTimeout: time.Second})
	if !p.OK || len(p.Stages) != 2 || p.Stages[0].Name != "proxy" || !p.Stages[0].OK || !strings.Contains(p.Stages[0].Detail, "reachable at") {
		t.Fatalf("proxy up: %+v %+v", p.Error, p.Stages)
	}

	// A proxy URL with https:// to a proxy that speaks plain HTTP.
	ps := httptest.NewServer(&mirrortest.HTTPProxy{})
	defer ps.Close()
	pu, _ := url.Parse(strings.Replace(ps.URL, "http:", "https:", 1))
	p = probe.URL(context.Background(), newClient(t, download.Config{Proxy: http.ProxyURL(pu)}), target, probe.Options{StageTimeout: time.Second})
	if p.Error == nil || p.Error.Class != failure.ProxyConnect || !strings.Contains(p.Error.Hint, "http://") {
		t.Fatalf("https proxy URL to a plain proxy: %+v", p.Error)
	}
}
