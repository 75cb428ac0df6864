package mirror

import (
	"net/url"
	"strings"
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
// use. "direct" is the toolchain module's own home (DirectToolchainBase); the community proxies
// serve the checksum database too, and every zip is checked against it.
var CatalogueProxies = "direct,https://goproxy.cn,https://goproxy.io"

// DirectToolchainBase is where golang.org/toolchain lives when fetched "direct": its go-import
// tag is `golang.org/toolchain mod https://go.dev/dl/mod`, a module proxy.
const DirectToolchainBase = "https://go.dev/dl/mod"

// PublicHosts are the hosts of the catalogue and the checksum database gostrap trusts by
// default (sum.golang.org, and sum.golang.google.cn where GOSUMDB names it): public sites, whose
// certificates chain to public roots unless something in the path re-signs them.
func PublicHosts() map[string]bool {
	hosts := map[string]bool{}
	for _, lists := range [][]string{CatalogueOfficial, CatalogueMirrors, strings.Split(CatalogueProxies, ","), {DirectToolchainBase}} {
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
