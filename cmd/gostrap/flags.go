package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
)

// usageError is a command line gostrap cannot make sense of: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// list is a repeatable flag; its environment variable is a comma-separated list.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// common are the flags every command that reaches sources takes (docs/design.md, "CLI contract").
type common struct {
	dir, cacheDir     string
	official, mirrors list
	bundles           list
	sources           string
	goos, goarch      string
	caFile            string
	resolve           list
	goproxy, gosumdb  string
	json, quiet       bool
	offline           bool
	insecureMirror    bool
	use               bool
	allowDowngrade    bool
	idleTimeout       time.Duration
	connectTimeout    time.Duration
	dnsTimeout        time.Duration
	probeTimeout      time.Duration
}

func envList(name string) list {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil
	}
	var out list
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if out == nil {
		out = list{}
	}
	return out
}

func envBool(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// register adds the common flags to fs, with defaults from the environment.
func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", os.Getenv("GOSTRAP_DIR"), "install directory (GOSTRAP_DIR; default ~/.local/share/gostrap)")
	fs.StringVar(&c.cacheDir, "cache-dir", os.Getenv("GOSTRAP_CACHE"), "download cache (GOSTRAP_CACHE)")
	fs.Var(&c.official, "official", "official download site base URL, repeatable (GOSTRAP_OFFICIAL; 'off' disables)")
	fs.Var(&c.mirrors, "mirror", "flat mirror base URL, repeatable (GOSTRAP_MIRRORS, comma list; 'off' disables)")
	fs.Var(&c.bundles, "bundle", "offline bundle directory or archive, repeatable (GOSTRAP_BUNDLE)")
	fs.StringVar(&c.sources, "sources", os.Getenv("GOSTRAP_SOURCES"), "source kinds in order: official,mirror,proxy,bundle (GOSTRAP_SOURCES)")
	fs.StringVar(&c.goos, "os", "", "target GOOS (default: this machine's)")
	fs.StringVar(&c.goarch, "arch", "", "target GOARCH (default: this machine's)")
	fs.StringVar(&c.caFile, "ca-file", os.Getenv("GOSTRAP_CA_FILE"), "PEM file of extra trusted CAs (GOSTRAP_CA_FILE)")
	fs.Var(&c.resolve, "resolve", "HOST:PORT:ADDRESS pin for this run, repeatable (GOSTRAP_RESOLVE)")
	fs.StringVar(&c.goproxy, "goproxy", "", "GOPROXY list to use instead of GOPROXY / go env GOPROXY")
	fs.StringVar(&c.gosumdb, "gosumdb", "", "GOSUMDB to use instead of GOSUMDB / go env GOSUMDB")
	fs.BoolVar(&c.json, "json", false, "print one JSON object on stdout")
	fs.BoolVar(&c.quiet, "quiet", envBool("GOSTRAP_QUIET"), "print nothing but errors (GOSTRAP_QUIET)")
	fs.BoolVar(&c.offline, "offline", envBool("GOSTRAP_OFFLINE"), "use only bundles and the local cache (GOSTRAP_OFFLINE)")
	fs.BoolVar(&c.insecureMirror, "insecure-trust-mirror", false, "accept a mirror's own checksum when nothing trusted vouches (INSECURE)")
	fs.BoolVar(&c.use, "use", false, "make the installed version current")
	fs.BoolVar(&c.allowDowngrade, "allow-downgrade", false, "accept an index whose latest is older than a release installed here before")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", envDuration("GOSTRAP_IDLE_TIMEOUT", 15*time.Second), "give a transfer up after this long without data (GOSTRAP_IDLE_TIMEOUT)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", envDuration("GOSTRAP_CONNECT_TIMEOUT", 10*time.Second), "TCP connect and TLS handshake timeout (GOSTRAP_CONNECT_TIMEOUT)")
	fs.DurationVar(&c.dnsTimeout, "dns-timeout", envDuration("GOSTRAP_DNS_TIMEOUT", download.DefaultDNSTimeout), "longest wait for the resolver, once per host name per run (GOSTRAP_DNS_TIMEOUT)")
	fs.DurationVar(&c.probeTimeout, "probe-timeout", envDuration("GOSTRAP_PROBE_TIMEOUT", 3*time.Second), "probe budget per stage: connect, TLS; HTTP twice (GOSTRAP_PROBE_TIMEOUT)")
}

// fill applies environment lists for list flags the command line did not set.
func (c *common) fill() {
	if c.official == nil {
		c.official = envList("GOSTRAP_OFFICIAL")
	}
	if c.mirrors == nil {
		c.mirrors = envList("GOSTRAP_MIRRORS")
	}
	if c.bundles == nil {
		c.bundles = envList("GOSTRAP_BUNDLE")
	}
	if c.resolve == nil {
		c.resolve = envList("GOSTRAP_RESOLVE")
	}
}

// options turns the flags into library options.
func (c *common) options(stderr io.Writer) (gostrap.Options, error) {
	c.fill()
	o := gostrap.Options{
		Dir:                 c.dir,
		CacheDir:            c.cacheDir,
		Official:            c.official,
		Mirrors:             c.mirrors,
		GOPROXY:             c.goproxy,
		GOSUMDB:             c.gosumdb,
		Bundles:             c.bundles,
		Offline:             c.offline,
		InsecureTrustMirror: c.insecureMirror,
		Use:                 c.use,
		AllowDowngrade:      c.allowDowngrade,
		Platform:            mirror.Host(),
		ProbeTimeout:        c.probeTimeout,
		Download: download.Config{
			CAFile:         c.caFile,
			Resolve:        c.resolve,
			IdleTimeout:    c.idleTimeout,
			ConnectTimeout: c.connectTimeout,
			TLSTimeout:     c.connectTimeout,
			DNSTimeout:     c.dnsTimeout,
		},
	}
	if c.goos != "" {
		o.Platform.OS = c.goos
	}
	if c.goarch != "" {
		o.Platform.Arch = c.goarch
	}
	if err := o.Platform.Check(); err != nil {
		return o, &usageError{err.Error()}
	}
	if c.sources != "" {
		kinds, err := gostrap.ParseSources(c.sources)
		if err != nil {
			return o, &usageError{err.Error()}
		}
		o.Sources = kinds
	}
	if _, err := download.ParseResolve(c.resolve); err != nil {
		return o, &usageError{err.Error()}
	}
	if !c.quiet {
		o.Log = stderr
		if isTerminal(stderr) {
			o.Download.Progress = download.NewBar(stderr)
		} else {
			o.Download.Progress = download.NewLines(stderr, 5*time.Second)
		}
	}
	return o, nil
}

// parse parses args with flags allowed before, between and after the arguments
// ("gostrap install 1.22 --dir /opt/go" and "gostrap install --dir /opt/go 1.22" are the same).
// "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	fs.SetOutput(io.Discard)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func isTerminal(w io.Writer) bool {
	if r, ok := w.(redacting); ok {
		w = r.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
