package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/gostrap/gostrap/download"
)

// ProxyEntry is one element of a GOPROXY list.
type ProxyEntry struct {
	// URL is a proxy base URL, or "direct" or "off".
	URL string
	// FallBackOnError is true when the entry was followed by "|": any error moves on to the
	// next entry. After "," only 404 and 410 do.
	FallBackOnError bool
}

// ProxyList is a parsed GOPROXY.
type ProxyList []ProxyEntry

// ProxyForms is what a GOPROXY entry may be, for error messages.
const ProxyForms = "entries are https://HOST[/PATH], http://HOST[/PATH], file:///PATH, direct or off, separated by , or |"

// GOPROXYError is a GOPROXY value the go command would refuse too.
type GOPROXYError struct {
	Entry  string // the offending entry; empty when the list as a whole is wrong
	Reason string
}

func (e *GOPROXYError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("invalid GOPROXY: %s (%s)", e.Reason, ProxyForms)
	}
	return fmt.Sprintf("invalid GOPROXY entry %q: %s (%s)", e.Entry, e.Reason, ProxyForms)
}

// ParseGOPROXY parses a GOPROXY value by cmd/go's rules (modfetch/proxy.go): entries separated
// by "," (fall through on 404/410 only) or "|" (fall through on any error); "direct" and "off"
// end the list; an entry containing ".", ":" or "/" that is neither a URL (":/") nor an absolute
// path gets "https://"; what remains must be an http, https or file URL. So "garbage" or
// "localhost" is refused for lacking a scheme, as the go command refuses it, rather than
// guessed at.
func ParseGOPROXY(s string) (ProxyList, error) {
	var list ProxyList
	for s != "" {
		var entry string
		fallBack := false
		if i := strings.IndexAny(s, ",|"); i >= 0 {
			entry, fallBack, s = s[:i], s[i] == '|', s[i+1:]
		} else {
			entry, s = s, ""
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		switch entry {
		case "off", "direct":
			return append(list, ProxyEntry{URL: entry, FallBackOnError: fallBack}), nil
		case "noproxy":
			return nil, &GOPROXYError{Entry: entry, Reason: "noproxy is internal to the go command"}
		}
		if strings.ContainsFunc(entry, unicode.IsSpace) {
			return nil, &GOPROXYError{Entry: entry, Reason: "contains white space"}
		}
		raw := entry
		if strings.ContainsAny(entry, ".:/") && !strings.Contains(entry, ":/") && !filepath.IsAbs(entry) && !path.IsAbs(entry) {
			entry = "https://" + entry
		}
		scheme, rest, ok := strings.Cut(entry, "://")
		switch {
		case !ok:
			return nil, &GOPROXYError{Entry: raw, Reason: "missing scheme"}
		case scheme != "https" && scheme != "http" && scheme != "file":
			return nil, &GOPROXYError{Entry: raw, Reason: "scheme must be https, http or file"}
		}
		// Trailing slashes come off the path, never out of "scheme://".
		entry = scheme + "://" + strings.TrimRight(rest, "/")
		u, err := url.Parse(entry)
		switch {
		case err != nil:
			return nil, &GOPROXYError{Entry: raw, Reason: "not a URL"}
		case u.Scheme == "file" && (u.Path == "" || *u != url.URL{Scheme: u.Scheme, Path: u.Path, RawPath: u.RawPath}):
			return nil, &GOPROXYError{Entry: raw, Reason: "a file:// URL holds only an absolute path"}
		case u.Scheme != "file" && (u.Host == "" || u.Port() == "" && strings.HasSuffix(u.Host, ":")):
			return nil, &GOPROXYError{Entry: raw, Reason: "no host"}
		}
		list = append(list, ProxyEntry{URL: entry, FallBackOnError: fallBack})
	}
	if len(list) == 0 {
		return nil, &GOPROXYError{Reason: "the list names no proxy"}
	}
	return list, nil
}

func (l ProxyList) String() string {
	var b strings.Builder
	for i, e := range l {
		b.WriteString(e.URL)
		if i < len(l)-1 {
			if e.FallBackOnError {
				b.WriteByte('|')
			} else {
				b.WriteByte(',')
			}
		}
	}
	return b.String()
}

// Off reports whether the list disables module downloads.
func (l ProxyList) Off() bool { return len(l) == 1 && l[0].URL == "off" }

// ErrProxyOff is the failure of a lookup when GOPROXY reaches "off".
var ErrProxyOff = errors.New("module downloads disabled by GOPROXY=off")

// Try calls fn with the base URL of each proxy in turn, as cmd/go's TryProxies does: it stops at
// the first success; after a "," entry it moves on only when fn's error is a 404/410
// (fs.ErrNotExist), after a "|" entry on any error. "direct" means the toolchain module's own
// home. The error returned is the most helpful one: a real failure outranks "not found".
func (l ProxyList) Try(fn func(base string) error) error {
	var best error
	for _, e := range l {
		base := e.URL
		switch base {
		case "off":
			if best == nil {
				best = ErrProxyOff
			}
			return best
		case "direct":
			base = DirectToolchainBase
		}
		err := fn(base)
		if err == nil {
			return nil
		}
		notExist := errors.Is(err, fs.ErrNotExist)
		if best == nil || errors.Is(best, fs.ErrNotExist) && !notExist {
			best = err
		}
		if !e.FallBackOnError && !notExist {
			return err
		}
	}
	return best
}

// GoEnv returns the named go environment settings as the go command sees them: the process
// environment first, then `go env` when a go command is on PATH (its go.env and GOENV file).
// Keys the go command does not know, or with no go command, come back empty.
func GoEnv(ctx context.Context, keys ...string) map[string]string {
	out := map[string]string{}
	var missing []string
	for _, k := range keys {
		if v, ok := os.LookupEnv(k); ok {
			out[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return out
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, append([]string{"env"}, missing...)...)
	// The go command must not switch toolchains (and download one) just to answer this.
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	stdout, err := cmd.Output()
	if err != nil {
		return out
	}
	lines := strings.Split(string(bytes.TrimRight(stdout, "\n")), "\n")
	if len(lines) != len(missing) {
		return out
	}
	for i, k := range missing {
		out[k] = lines[i]
	}
	return out
}

// MaxZipFile is the module zip size limit of the go command and golang.org/x/mod/zip.
const MaxZipFile = 500 << 20

// ToolchainProxy is the golang.org/toolchain module on one proxy.
type ToolchainProxy struct {
	Base string // without trailing slash
}

func (t ToolchainProxy) url(suffix string) string {
	return t.Base + "/" + ToolchainModule + "/@v/" + suffix
}

// ListURL, InfoURL and ZipURL are the module proxy protocol's endpoints gostrap reads.
func (t ToolchainProxy) ListURL() string         { return t.url("list") }
func (t ToolchainProxy) InfoURL(v string) string { return t.url(v + ".info") }
func (t ToolchainProxy) ZipURL(v string) string  { return t.url(v + ".zip") }

// MaxList caps a module version list.
const MaxList = 16 << 20

// List returns the Go versions the proxy offers for p.
func (t ToolchainProxy) List(ctx context.Context, c *download.Client, p Platform) ([]Version, error) {
	body, err := c.Get(ctx, t.ListURL(), MaxList)
	if err != nil {
		return nil, err
	}
	return ParseToolchainList(body, p), nil
}

// ParseToolchainList picks the versions for p out of a golang.org/toolchain version list.
func ParseToolchainList(body []byte, p Platform) []Version {
	var out []Version
	seen := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		v, ok := p.GoVersionFromToolchain(strings.TrimSpace(line))
		if ok && !seen[v] {
			seen[v] = true
			out = append(out, Version{Version: v, Stable: IsStable(v)})
		}
	}
	return out
}

// Info checks that the proxy has the module version (its .info answers).
func (t ToolchainProxy) Info(ctx context.Context, c *download.Client, modVersion string) error {
	_, err := c.Get(ctx, t.InfoURL(modVersion), 1<<20)
	return err
}
