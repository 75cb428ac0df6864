package mirror

import (
	"net/url"
)

// The catalogue of public sources gostrap knows without being told. A kind's catalogue entries
// are used only when the user configured nothing for that kind (a flag, its environment
// variable, or for proxies GOPROXY), and "off" disables a kind altogether.

// CatalogueOfficial are the official download sites: the index they publish over verified TLS
// is a trust root (DESIGN, Trust 1). golang.google.cn is the official site in mainland China.
var CatalogueOfficial = []string{
	"https://go.dev/dl/",
	"https://golang.google.cn/dl/",
}

// CatalogueMirrors are community mirrors of the release archives in the flat layout. They
// supply bytes only; the trust comes from an official index or the checksum database.
var CatalogueMirrors = []string{
	"https://mirrors.aliyun.com/golang/",
	"https://mirrors.ustc.edu.cn/golang/",
	"https://mirrors.nju.edu.cn/golang/",
}

// CatalogueProxies are used when neither GOPROXY nor a go command says which module proxy to
// use: the toolchain module's own home ("direct", DirectToolchainBase), then public community
// proxies that serve the checksum database too, every zip checked against it. The list falls
// through on any error ("|"): where go.dev is blocked, the next proxy is tried. A GOPROXY the
// user gives keeps the go command's exact semantics, in which "direct" ends the list; so the
// catalogue is a list built here, never parsed like GOPROXY.
var CatalogueProxies = ProxyList{
	{URL: "direct", FallBackOnError: true},
	{URL: "https://goproxy.cn", FallBackOnError: true},
	{URL: "https://goproxy.io"},
}

// DirectToolchainBase is where golang.org/toolchain lives when fetched "direct": its go-import
// tag is `golang.org/toolchain mod https://go.dev/dl/mod`, a module proxy.
const DirectToolchainBase = "https://go.dev/dl/mod"

// PublicHosts are the hosts of the catalogue and the checksum database gostrap trusts by
// default (sum.golang.org, and sum.golang.google.cn where GOSUMDB names it): public sites, whose
// certificates chain to public roots unless something in the path re-signs them.
func PublicHosts() map[string]bool {
	hosts := map[string]bool{}
	proxies := []string{DirectToolchainBase}
	for _, e := range CatalogueProxies {
		proxies = append(proxies, e.URL)
	}
	for _, lists := range [][]string{CatalogueOfficial, CatalogueMirrors, proxies} {
		for _, u := range lists {
			if p, err := url.Parse(u); err == nil && p.Hostname() != "" {
				hosts[p.Hostname()] = true
			}
		}
	}
	for _, h := range []string{"dl.google.com", "sum.golang.org", "sum.golang.google.cn"} {
		hosts[h] = true
	}
	return hosts
}
