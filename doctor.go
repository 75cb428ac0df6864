package gostrap

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/probe"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// Diagnosis is what `gostrap doctor` found: the local configuration, then each source probed
// stage by stage, nearest first, as the troubleshooting guide walks them.
type Diagnosis struct {
	Config  []Setting         `json:"config"`
	Sources []DiagnosedSource `json:"sources"`
	// CanServe reports that at least one source can serve an install with a trusted checksum.
	CanServe bool `json:"can_serve"`
	// Use lists the sources an install would use, best first.
	Use []string `json:"use"`
}

// Setting is one piece of local configuration that decides how the network is reached.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// DiagnosedSource is one source and its probes (a GOPROXY list has one per proxy).
type DiagnosedSource struct {
	Kind   string          `json:"kind"`
	URL    string          `json:"url"`
	Probes []*probe.Result `json:"probes"`
	OK     bool            `json:"ok"`
}

// KindSumDB labels the checksum database in a diagnosis: not a source of bytes, but what
// proxy and mirror installs need to be verified.
const KindSumDB = "sumdb"

// Doctor probes every configured source, or the URLs given, and reports what works.
func (in *Installer) Doctor(ctx context.Context, urls []string) (*Diagnosis, error) {
	d := &Diagnosis{Config: in.settings(ctx)}
	if len(urls) > 0 {
		for _, u := range urls {
			// Any HTTP answer shows the path works: a mirror's root need not be listed.
			p := in.probeURL(ctx, u, func(st int) bool { return st < 500 })
			d.Sources = append(d.Sources, DiagnosedSource{Kind: "url", URL: failure.Redact(u), Probes: []*probe.Result{p}, OK: p.OK})
			if p.OK {
				d.CanServe = true
				d.Use = append(d.Use, failure.Redact(u))
			}
		}
		return d, nil
	}

	srcs, err := in.Sources(ctx)
	if err != nil {
		return nil, err
	}
	all := srcs.indexOrder()
	res := in.probeSources(ctx, all)
	ok := map[Kind]bool{}
	for _, s := range all {
		sp := res[s]
		d.Sources = append(d.Sources, DiagnosedSource{Kind: string(s.Kind), URL: failure.Redact(s.URL), Probes: sp.probes, OK: sp.ok()})
		if sp.ok() {
			ok[s.Kind] = true
		}
	}
	// The checksum database, reached as install reaches it (mirror.SumDBRemote, cmd/go's
	// dbClient): at the URL GOSUMDB gives; else through the first proxy of GOPROXY whose
	// /sumdb/<name>/supported answers, moving on as the list says (after ",": only on 404 or
	// 410; after "|": on any failure); directly only when the list reaches direct or off, or
	// every proxy said it does not serve the database.
	sumOK := false
	if db, err := verify.ParseGOSUMDB(in.goEnv(ctx)["GOSUMDB"]); err == nil {
		ds := DiagnosedSource{Kind: KindSumDB, URL: db.Name}
		try := func(u string) *probe.Result {
			p := in.probeURL(ctx, u, func(st int) bool { return st == http.StatusOK })
			ds.Probes = append(ds.Probes, p)
			ds.OK = ds.OK || p.OK
			return p
		}
		if db.URL != "" {
			try(db.URL + "/latest")
		} else if list, _, err := in.proxyList(ctx); err == nil {
			direct := true
		proxies:
			for _, e := range list {
				switch e.URL {
				case "off", "direct":
					break proxies
				}
				p := try(e.URL + "/sumdb/" + db.Name + "/supported")
				switch {
				case p.OK:
					direct = false
					break proxies
				case p.Error != nil && p.Error.Class == failure.NotFound, e.FallBackOnError:
					continue
				}
				direct = false // the go command stops at this proxy's failure
				break proxies
			}
			if direct {
				try("https://" + db.Name + "/latest")
			}
		}
		sumOK = ds.OK
		d.Sources = append(d.Sources, ds)
	}
	for _, s := range all {
		if !res[s].ok() {
			continue
		}
		switch {
		case s.Kind == KindOfficial,
			s.Kind == KindMirror && (ok[KindOfficial] || sumOK),
			s.Kind == KindProxy && sumOK:
			if !slices.Contains(srcs.Order, s) { // an official site may only be a trust root
				continue
			}
			d.CanServe = true
			d.Use = append(d.Use, string(s.Kind)+" "+failure.Redact(s.URL))
		}
	}
	return d, nil
}

// settings lists the local configuration, nearest first: what decides where packets go before
// any of them leaves the machine.
func (in *Installer) settings(ctx context.Context) []Setting {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return failure.RedactProxy(v) + " (" + n + ")"
			}
		}
		return "(not set)"
	}
	caFile := "(system roots only)"
	if in.opts.Download.CAFile != "" {
		caFile = in.opts.Download.CAFile
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		caFile += "; SSL_CERT_FILE=" + f + failure.CertFileNote()
	}
	resolve := "(none)"
	if len(in.opts.Download.Resolve) > 0 {
		resolve = strings.Join(in.opts.Download.Resolve, ", ")
	}
	goproxy := "(catalogue, falls through on any error) " + mirror.CatalogueProxies.String()
	if list, builtin, err := in.proxyList(ctx); err != nil {
		goproxy = "invalid: " + err.Error()
	} else if !builtin {
		goproxy = failure.Redact(list.String())
	}
	gosumdb := "invalid"
	if db, err := verify.ParseGOSUMDB(in.goEnv(ctx)["GOSUMDB"]); err == nil {
		gosumdb = db.Name
		if db.Key != verify.SumGolangOrgKey {
			gosumdb += " (key from GOSUMDB)"
		}
		if db.URL != "" {
			gosumdb += " at " + db.URL
		}
		if db.Ignored != "" {
			gosumdb += " (" + db.Ignored + " is not honoured for toolchains)"
		}
	}
	return []Setting{
		{"platform", in.opts.Platform.String()},
		{"install dir", in.opts.Dir},
		{"cache", in.opts.CacheDir},
		{"clock", time.Now().UTC().Format("2006-01-02 15:04:05 UTC")},
		{"HTTPS_PROXY", env("HTTPS_PROXY", "https_proxy")},
		{"HTTP_PROXY", env("HTTP_PROXY", "http_proxy")},
		{"NO_PROXY", env("NO_PROXY", "no_proxy")},
		{"CA file", caFile},
		{"DNS budget", in.client.Config().DNSTimeout.String() + " per host name, looked up once (--dns-timeout)"},
		{"probe budget", in.opts.ProbeTimeout.String() + " per stage (--probe-timeout)"},
		{"--resolve", resolve},
		{"GOPROXY", goproxy},
		{"GOSUMDB", gosumdb},
	}
}

// Probe is what probing one URL found, stage by stage.
type Probe = probe.Result

// TLSInfo is a server's side of a TLS handshake, as a probe saw it.
type TLSInfo = probe.TLSInfo
