package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
	"github.com/gostrap/gostrap/verify"
)

// usageError is a command line gostrap cannot make sense of, or a value it refuses: exit 2.
// cmd names the command whose help the hint points to.
type usageError struct {
	msg string
	cmd string
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// flagSpec is one flag as help, the README's table and the completion scripts show it. Every
// flag a command accepts is declared through one, so that the three cannot drift.
type flagSpec struct {
	Name  string // without dashes
	Arg   string // the value's placeholder (DIR); empty for a switch
	Env   string // the environment variable read when the flag is not given
	Def   string // the default, as help says it
	Usage string
	// Repeat: the flag may be given several times; its variable is a comma-separated list.
	Repeat bool
	// Complete is what a shell completes the value with: "file", "dir", or words.
	Complete []string
	// LibEnv: the library reads Env itself (GOPROXY and GOSUMDB, with `go env` after them).
	LibEnv bool

	value flag.Value
}

// flagSet is a command's flags.
type flagSet struct {
	fs    *flag.FlagSet
	specs []*flagSpec
	// bad is the first value a check refused, with its flag named.
	bad error
}

// flagSet declares c's flags, bound to o: for parsing, and with throwaway opts for help,
// completion and the README.
func (c *command) flagSet(o *opts) *flagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &flagSet{fs: fs}
	if c.flags != nil {
		c.flags(f, o)
	}
	return f
}

func (f *flagSet) add(spec flagSpec, v flag.Value) {
	spec.value = v
	f.specs = append(f.specs, &spec)
	f.fs.Var(recording{v, &spec, f}, spec.Name, spec.Usage)
}

// recording keeps the first refused value, so that the error names the flag, the value and
// the accepted forms.
type recording struct {
	flag.Value
	spec *flagSpec
	f    *flagSet
}

func (r recording) Set(s string) error {
	var err error
	if name, _, _ := strings.Cut(strings.TrimLeft(s, "-"), "="); strings.HasPrefix(s, "-") && r.f.fs.Lookup(name) != nil {
		// "--official $UNSET --quiet": the next flag was taken for the value.
		err = fmt.Errorf("that is the flag %s, not a value: --%s needs %s", s, r.spec.Name, r.spec.Arg)
	} else {
		err = r.Value.Set(s)
	}
	if err != nil && r.f.bad == nil {
		r.f.bad = badValue("--"+r.spec.Name, s, err)
	}
	return err
}

func (r recording) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (f *flagSet) spec(name string) *flagSpec {
	for _, s := range f.specs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Values. Each checks what it is given, from the command line or the environment, so that bad
// input is refused before anything reaches the network.

type stringValue struct {
	p     *string
	check func(string) error
}

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v stringValue) Set(s string) error {
	if v.check != nil {
		if err := v.check(s); err != nil {
			return err
		}
	}
	*v.p = s
	return nil
}

type boolValue struct{ p *bool }

func (v boolValue) String() string {
	if v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}
func (v boolValue) IsBoolFlag() bool { return true }

func (v boolValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "y", "on":
		*v.p = true
	case "", "0", "false", "no", "n", "off":
		*v.p = false
	default:
		return errors.New("want 1, true, yes or on; 0, false, no or off")
	}
	return nil
}

type durationValue struct{ p *time.Duration }

func (v durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 30s, 2m or 1h30m")
	}
	*v.p = d
	return nil
}

// ageValue is a duration that may also be given in days (7d), as cache ages are.
type ageValue struct{ p *time.Duration }

func (v ageValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v ageValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			*v.p = time.Duration(n) * 24 * time.Hour
			return nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		*v.p = d
		return nil
	}
	return errors.New("want an age such as 30d, 12h or 90m")
}

type countValue struct{ p *int }

func (v countValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return errors.New("want a whole number, 0 or more")
	}
	*v.p = n
	return nil
}

// listValue is a repeatable flag. nil means not given; an environment variable set to "" is an
// empty, given list (GOSTRAP_MIRRORS= means no mirrors).
type listValue struct {
	p     *[]string
	check func(string) error
}

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	if v.check != nil {
		if err := v.check(s); err != nil {
			return err
		}
	}
	*v.p = append(*v.p, s)
	return nil
}

// badValue is a value a check refused: the setting, the value, and what is accepted.
func badValue(setting, value string, err error) error {
	return &usageError{msg: fmt.Sprintf("invalid %s %q: %v", setting, value, err)}
}

// parse parses args with flags allowed before, between and after the arguments
// ("gostrap install 1.22 --dir /opt/go" and "gostrap install --dir /opt/go 1.22" are the same),
// then applies the environment variables of the flags not given. "--" ends the flags.
func (f *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, f.parseError(err, args)
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, f.applyEnv()
}

// parseError says what was wrong with the command line: the value a check refused (recorded
// by the value itself), or the flag that is unknown or lacks its value.
func (f *flagSet) parseError(err error, args []string) error {
	if f.bad != nil {
		return f.bad
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fl := f.fs.Lookup(name)
		if fl == nil {
			return usagef("unknown flag %s for gostrap %s", a, f.fs.Name())
		}
		if bv, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bv.IsBoolFlag() || hasValue {
			continue
		}
		if i == len(args)-1 {
			return usagef("flag --%s needs a value: --%s %s", name, name, f.spec(name).Arg)
		}
		i++ // its value
	}
	return &usageError{msg: err.Error()}
}

// applyEnv sets each flag the command line did not give from its environment variable.
func (f *flagSet) applyEnv() error {
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, s := range f.specs {
		if s.Env == "" || s.LibEnv || given[s.Name] {
			continue
		}
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			continue
		}
		if lv, ok := s.value.(listValue); ok {
			*lv.p = []string{}
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e == "" {
					continue
				}
				if err := lv.Set(e); err != nil {
					return badValue(s.Env, e, err)
				}
			}
			continue
		}
		if v == "" {
			continue
		}
		if err := s.value.Set(v); err != nil {
			return badValue(s.Env, v, err)
		}
	}
	return nil
}

// given reports whether the command line gave the flag (not the environment).
func (f *flagSet) given(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// opts holds every flag's value; a command declares only the flags it takes.
type opts struct {
	dir, cacheDir    string
	official, mirror []string
	bundles          []string
	sources          string
	goos, goarch     string
	caFile           string
	resolve          []string
	goproxy, gosumdb string
	json, quiet      bool
	offline          bool
	insecureMirror   bool
	allowDowngrade   bool
	idleTimeout      time.Duration
	connectTimeout   time.Duration
	dnsTimeout       time.Duration
	probeTimeout     time.Duration

	use, force, remote, all, dryRun bool
	shell                           string
	keep                            int
	olderThan                       time.Duration

	out, since, addr     string
	versions, platforms  []string
	archive, withArchive bool
	noZips               bool
	noGostrap            bool
	gostrapDist          string
}

func newOpts() *opts {
	return &opts{idleTimeout: 15 * time.Second, connectTimeout: 10 * time.Second, dnsTimeout: download.DefaultDNSTimeout,
		probeTimeout: 3 * time.Second, addr: "127.0.0.1:8080"}
}

// Flag groups.

func outputFlags(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "json", Usage: "print one JSON object on stdout; nothing on stderr but errors"}, boolValue{&o.json})
	quietFlag(f, o)
}

func quietFlag(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "quiet", Env: "GOSTRAP_QUIET", Usage: "print nothing but errors: no progress, no notes"}, boolValue{&o.quiet})
}

func dirFlag(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "dir", Arg: "DIR", Env: "GOSTRAP_DIR", Def: "$XDG_DATA_HOME/gostrap or ~/.local/share/gostrap; Windows: %LOCALAPPDATA%\\gostrap",
		Usage: "install directory: the toolchains and the current link", Complete: []string{"dir"}},
		stringValue{&o.dir, checkDir})
}

func cacheDirFlag(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "cache-dir", Arg: "DIR", Env: "GOSTRAP_CACHE", Def: "~/.cache/gostrap, in the user cache directory; Windows: %LOCALAPPDATA%\\gostrap\\cache",
		Usage: "download cache: verified downloads, partial downloads, indexes, checksum database state", Complete: []string{"dir"}},
		stringValue{&o.cacheDir, checkDir})
}

func platformFlags(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "os", Arg: "GOOS", Def: "this machine's", Usage: "target operating system, e.g. linux, windows, darwin",
		Complete: mirror.KnownOS()}, stringValue{&o.goos, nil})
	f.add(flagSpec{Name: "arch", Arg: "GOARCH", Def: "this machine's", Usage: "target architecture, e.g. amd64, arm64, arm",
		Complete: mirror.KnownArch("")}, stringValue{&o.goarch, nil})
}

// netFlags are the flags of every command that reaches sources.
func netFlags(f *flagSet, o *opts) {
	cacheDirFlag(f, o)
	f.add(flagSpec{Name: "official", Arg: "URL", Env: "GOSTRAP_OFFICIAL", Repeat: true, Def: "https://go.dev/dl/, then https://golang.google.cn/dl/",
		Usage: "official download site (index and archives); off disables"}, listValue{&o.official, checkSiteURL})
	f.add(flagSpec{Name: "mirror", Arg: "URL", Env: "GOSTRAP_MIRRORS", Repeat: true, Def: "public community mirrors",
		Usage: "flat mirror serving URL/go1.N.M.OS-ARCH.tar.gz; off disables"}, listValue{&o.mirror, checkSiteURL})
	f.add(flagSpec{Name: "goproxy", Arg: "LIST", Env: "GOPROXY", LibEnv: true, Def: "GOPROXY, then go env GOPROXY",
		Usage: "module proxies serving golang.org/toolchain, as the go command reads GOPROXY"}, stringValue{&o.goproxy, checkGOPROXY})
	gosumdbFlag(f, o)
	f.add(flagSpec{Name: "bundle", Arg: "PATH", Env: "GOSTRAP_BUNDLE", Repeat: true,
		Usage: "offline bundle (directory or .tar) made by gostrap bundle create", Complete: []string{"file"}}, listValue{&o.bundles, nil})
	f.add(flagSpec{Name: "sources", Arg: "LIST", Env: "GOSTRAP_SOURCES", Def: "official,mirror,proxy,bundle",
		Usage: "source kinds to use, in order", Complete: []string{"official", "mirror", "proxy", "bundle"}}, stringValue{&o.sources, checkSources})
	f.add(flagSpec{Name: "offline", Env: "GOSTRAP_OFFLINE", Usage: "use only bundles and the download cache; never go online"}, boolValue{&o.offline})
	f.add(flagSpec{Name: "ca-file", Arg: "FILE", Env: "GOSTRAP_CA_FILE", Def: "the system roots; SSL_CERT_FILE works too, but not on Windows or macOS",
		Usage: "PEM file of extra trusted CAs: a TLS-inspecting proxy's, a private CA", Complete: []string{"file"}}, stringValue{&o.caFile, checkCAFile})
	f.add(flagSpec{Name: "resolve", Arg: "HOST:PORT:ADDR", Env: "GOSTRAP_RESOLVE", Repeat: true,
		Usage: "pin a host to an address for this run, as curl --resolve does, without editing the hosts file"}, listValue{&o.resolve, checkResolve})
	f.add(flagSpec{Name: "connect-timeout", Arg: "D", Env: "GOSTRAP_CONNECT_TIMEOUT", Def: "10s",
		Usage: "give up a TCP connect or TLS handshake after D"}, durationValue{&o.connectTimeout})
	f.add(flagSpec{Name: "dns-timeout", Arg: "D", Env: "GOSTRAP_DNS_TIMEOUT", Def: download.DefaultDNSTimeout.String(),
		Usage: "longest wait for the resolver, once per host name per run"}, durationValue{&o.dnsTimeout})
	f.add(flagSpec{Name: "probe-timeout", Arg: "D", Env: "GOSTRAP_PROBE_TIMEOUT", Def: "3s",
		Usage: "probe budget per stage (connect, TLS; the HTTP stage gets twice as long)"}, durationValue{&o.probeTimeout})
	f.add(flagSpec{Name: "idle-timeout", Arg: "D", Env: "GOSTRAP_IDLE_TIMEOUT", Def: "15s",
		Usage: "give up a transfer that receives nothing for D; the next source resumes it"}, durationValue{&o.idleTimeout})
}

// gosumdbFlag is also bundle verify's, which checks proofs offline with the database's key.
func gosumdbFlag(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "gosumdb", Arg: "DB", Env: "GOSUMDB", LibEnv: true, Def: "GOSUMDB, then go env GOSUMDB, else sum.golang.org",
		Usage: "checksum database that vouches for toolchains, as the go command reads GOSUMDB"}, stringValue{&o.gosumdb, checkGOSUMDB})
}

// trustFlags are the flags of commands that install or fetch releases.
func trustFlags(f *flagSet, o *opts) {
	f.add(flagSpec{Name: "insecure-trust-mirror",
		Usage: "INSECURE: accept a mirror's own checksum when nothing trusted vouches; recorded as mirror-self"}, boolValue{&o.insecureMirror})
	f.add(flagSpec{Name: "allow-downgrade",
		Usage: "accept an index whose newest release is older than one installed here before"}, boolValue{&o.allowDowngrade})
}

// Checks.

func checkDir(s string) error {
	if s == "" {
		return errors.New("want a directory")
	}
	if st, err := os.Stat(s); err == nil && !st.IsDir() {
		return errors.New("a file is there, not a directory")
	}
	return nil
}

func checkSiteURL(s string) error {
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" || e == "off" {
			continue
		}
		u, err := url.Parse(mirror.NormalizeBase(e))
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.ContainsAny(e, " \t") {
			return errors.New("want an http:// or https:// base URL, e.g. https://go.dev/dl/, or off")
		}
	}
	return nil
}

func checkGOPROXY(s string) error {
	if s == "" {
		return nil
	}
	_, err := mirror.ParseGOPROXY(s)
	return err
}

func checkGOSUMDB(s string) error {
	if s == "" {
		return nil
	}
	if _, err := verify.ParseGOSUMDB(s); err != nil {
		return fmt.Errorf("%w (want sum.golang.org, sum.golang.google.cn, or a verifier key NAME+HASH+KEY, optionally followed by the database's URL)", err)
	}
	return nil
}

func checkSources(s string) error {
	_, err := gostrap.ParseSources(s)
	return err
}

func checkCAFile(s string) error {
	data, err := os.ReadFile(s)
	if err != nil {
		return errors.New("cannot read it: " + strings.TrimPrefix(err.Error(), "open "+s+": "))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return errors.New("holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return nil
}

func checkResolve(s string) error {
	_, err := download.ParseResolve([]string{s})
	if err != nil {
		return errors.New("want HOST:PORT:ADDRESS, e.g. go.dev:443:142.250.1.1")
	}
	for _, e := range strings.Split(s, ",") {
		if _, port, _ := strings.Cut(strings.TrimSpace(e), ":"); port != "" {
			p, _, _ := strings.Cut(port, ":")
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return errors.New("the port must be a number from 1 to 65535, e.g. go.dev:443:142.250.1.1")
			}
		}
	}
	return nil
}

func checkVersion(s string) error {
	_, err := mirror.ParseSpec(s)
	return err
}

func checkLine(s string) error {
	spec, err := mirror.ParseSpec(s)
	if err != nil || spec.Kind != mirror.Line {
		return errors.New("want a line such as 1.21")
	}
	return nil
}

func checkPlatform(s string) error {
	_, err := mirror.ParsePlatform(s)
	return err
}

func checkAddr(s string) error {
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return errors.New("want HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
	}
	return nil
}

func checkShell(s string) error {
	if s == "" || slices.Contains(shellNames, s) {
		return nil
	}
	return fmt.Errorf("want one of %s", strings.Join(gostrap.Shells, ", "))
}

// shellNames are what --shell accepts: gostrap.Shells and their aliases.
var shellNames = append(slices.Clone(gostrap.Shells), "bash", "zsh", "pwsh")

// settingName names where a flag's value came from, for messages.
func (f *flagSet) settingName(name string) string {
	s := f.spec(name)
	if s == nil || f.given(name) || s.Env == "" {
		return "--" + name
	}
	if _, ok := os.LookupEnv(s.Env); ok {
		return s.Env
	}
	return "--" + name
}

// validate checks what single values cannot: the platform pair and flags that contradict
// each other. Nothing has touched the network yet.
func (o *opts) validate(f *flagSet) error {
	if f.spec("os") != nil && (o.goos != "" || o.goarch != "") {
		p := platformOf(o)
		if err := p.Check(); err != nil {
			return &usageError{msg: err.Error()}
		}
	}
	if f.spec("offline") != nil && o.offline {
		if o.sources != "" {
			kinds, _ := gostrap.ParseSources(o.sources)
			for _, k := range kinds {
				if k != gostrap.KindBundle {
					return usagef("%s=%s conflicts with --offline, which uses only bundles and the download cache: drop one of them",
						f.settingName("sources"), o.sources)
				}
			}
		}
		for _, name := range []string{"official", "mirror", "goproxy"} {
			if f.given(name) {
				return usagef("--%s conflicts with --offline, which never goes online: drop one of them", name)
			}
		}
	}
	return nil
}

func platformOf(o *opts) mirror.Platform {
	p := mirror.Host()
	if o.goos != "" {
		p.OS = o.goos
	}
	if o.goarch != "" {
		p.Arch = o.goarch
	}
	return p
}

// options turns the flags into library options; progress and notes go to stderr unless
// --quiet or --json.
func (o *opts) options(stderr io.Writer) gostrap.Options {
	opt := gostrap.Options{
		Dir:                 o.dir,
		CacheDir:            o.cacheDir,
		Official:            o.official,
		Mirrors:             o.mirror,
		GOPROXY:             o.goproxy,
		GOSUMDB:             o.gosumdb,
		Bundles:             o.bundles,
		Offline:             o.offline,
		InsecureTrustMirror: o.insecureMirror,
		Use:                 o.use,
		AllowDowngrade:      o.allowDowngrade,
		Platform:            platformOf(o),
		ProbeTimeout:        o.probeTimeout,
		Download: download.Config{
			CAFile:         o.caFile,
			Resolve:        o.resolve,
			IdleTimeout:    o.idleTimeout,
			ConnectTimeout: o.connectTimeout,
			TLSTimeout:     o.connectTimeout,
			DNSTimeout:     o.dnsTimeout,
		},
	}
	if o.sources != "" {
		opt.Sources, _ = gostrap.ParseSources(o.sources)
	}
	if o.logging() {
		if cols, ok := terminalColumns(stderr); ok {
			bar := download.NewBar(stderr, cols)
			opt.Log, opt.Download.Progress = bar, bar
		} else {
			opt.Log, opt.Download.Progress = stderr, download.NewLines(stderr, 5*time.Second)
		}
	}
	return opt
}

// logging reports whether the run's notes (each source's failure among them) reach stderr as
// they happen.
func (o *opts) logging() bool { return !o.quiet && !o.json }

// fileOf is the *os.File under w, when there is one.
func fileOf(w io.Writer) (*os.File, bool) {
	f, ok := unwrap(w).(*os.File)
	return f, ok
}
