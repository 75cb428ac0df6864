package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

func TestMain(m *testing.M) {
	os.Setenv(download.TestNetworkEnv, "loopback")
	testscript.Main(m, map[string]func(){
		"gostrap": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// The fixture is built on first use, not at init: the test binary re-executes itself for
// every gostrap command a script runs.
var fixture *mirrortest.Fixture

func buildFixture() {
	f, err := mirrortest.New(mirrortest.Options{Pad: 512 << 10})
	if err != nil {
		panic(err)
	}
	fixture = f
}

func TestScript(t *testing.T) {
	buildFixture()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"normalize": cmdNormalize,
			"empty":     cmdEmpty,
			"digest":    cmdDigest,
			"requests":  cmdRequests,
		},
	})
}

// setupScript starts the servers a script talks to and points gostrap at them only.
//
//	$OFFICIAL     official site (index + archives)
//	$MIRROR       flat mirror
//	$BADMIRROR    flat mirror whose archives have one byte flipped
//	$STALLMIRROR  flat mirror that falls silent 40% into every archive, however often resumed
//	$PROXY        module proxy with the checksum database under /sumdb/
//	$SUMDBKEY     the checksum database's verifier key
//	$EVIL         official site whose go1.90.N archives are hostile (see evilArchives)
//	$CLOSED       a loopback URL nothing listens on
//	$COUNTED      official site that counts the requests it gets (see cmdRequests)
func setupScript(env *testscript.Env) error {
	s := mirrortest.Start(deferrer{env}, fixture)
	tampered := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/golang/")
		data, ok := fixture.Archive(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, fixedTime, strings.NewReader(string(mirrortest.Flip(data, len(data)/2))))
	}))
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/golang/")
		data, ok := fixture.Archive(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, fixedTime, mirrortest.SilentAfter(data, int64(len(data))*4/10, r.Context().Done()))
	}))
	evil := httptest.NewServer(evilHandler(evilArchives(env.WorkDir)))
	tlsOfficial := httptest.NewUnstartedServer(fixture.OfficialHandler())
	tlsOfficial.TLS = &tls.Config{Certificates: []tls.Certificate{testCA.Leaf(mirrortest.LeafOptions{})}}
	tlsOfficial.StartTLS()
	requests := new(atomic.Int64)
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fixture.OfficialHandler().ServeHTTP(w, r)
	}))
	env.Values[requestsKey{}] = requests
	for _, srv := range []*httptest.Server{tampered, stall, evil, tlsOfficial, counted} {
		srv := srv
		env.Defer(func() { srv.CloseClientConnections(); srv.Close() })
	}

	work := env.WorkDir
	vars := map[string]string{
		"OFFICIAL":              s.OfficialURL(),
		"MIRROR":                s.MirrorURL(),
		"BADMIRROR":             tampered.URL + "/golang/",
		"STALLMIRROR":           stall.URL + "/golang/",
		"PROXY":                 s.ProxyURL(),
		"SUMDBKEY":              s.GOSUMDB(),
		"EVIL":                  evil.URL + "/dl/",
		"TLSOFFICIAL":           tlsOfficial.URL + "/dl/",
		"CLOSED":                mirrortest.ClosedURL(),
		"COUNTED":               counted.URL + "/dl/",
		"HOST":                  mirror.Host().String(),
		"HOSTDASH":              mirror.Host().OS + "-" + mirror.Host().OfficialArch(),
		"GOSTRAP_DIR":           filepath.Join(work, "go"),
		"GOSTRAP_CACHE":         filepath.Join(work, "cache"),
		"GOSTRAP_OFFICIAL":      s.OfficialURL(),
		"GOSTRAP_MIRRORS":       "off",
		"GOPROXY":               "off",
		"GOSUMDB":               s.GOSUMDB(),
		"GOSTRAP_IDLE_TIMEOUT":  "1s",
		"HOME":                  filepath.Join(work, "home"),
		"XDG_DATA_HOME":         filepath.Join(work, "xdg"),
		download.TestNetworkEnv: "loopback",
	}
	for k, v := range vars {
		env.Setenv(k, v)
	}
	return nil
}

type deferrer struct{ env *testscript.Env }

func (d deferrer) Cleanup(f func()) { d.env.Defer(f) }

var fixedTime = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// testCA signs $TLSOFFICIAL's certificate; nothing trusts it unless a script passes --ca-file.
var testCA = mirrortest.NewCA("Test Root CA")

type requestsKey struct{}

// cmdRequests checks how many requests $COUNTED has had: [!] requests N
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: requests N")
	}
	want, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		ts.Fatalf("requests: %v", err)
	}
	got := ts.Value(requestsKey{}).(*atomic.Int64).Load()
	if (got == want) == neg {
		ts.Fatalf("$COUNTED had %d requests; want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// cmdNormalize rewrites a file so that output with times, dates and ports can be compared with
// a golden file: durations become N ms, dates DATE, loopback ports PORT.
func cmdNormalize(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: normalize FILE")
	}
	p := ts.MkAbs(args[0])
	data, err := os.ReadFile(p)
	ts.Check(err)
	s := string(data)
	for _, r := range []struct{ re, to string }{
		{`\(\d+ ms\)`, "(N ms)"},
		{`\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC`, "DATE"},
		{`127\.0\.0\.1:\d+`, "127.0.0.1:PORT"},
		{`cipher \S+`, "cipher CIPHER"},
		{`sum\.test\+[0-9a-f]+\+\S+`, "SUMDBKEY"},
		{regexp.QuoteMeta(ts.Getenv("WORK")), "$$WORK"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.to)
	}
	ts.Check(os.WriteFile(p, []byte(s), 0o644))
}

// cmdExits runs a program and checks its exit code: exits N prog args...
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdEmpty checks that a directory is empty or absent: [!] empty DIR
func cmdEmpty(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: empty DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		ts.Fatalf("empty: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if neg && len(names) == 0 {
		ts.Fatalf("%s is empty", args[0])
	}
	if !neg && len(names) > 0 {
		ts.Fatalf("%s holds %s", args[0], strings.Join(names, ", "))
	}
}

// cmdDigest prints one digest over every file's path, mode and contents under DIR.
func cmdDigest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: digest DIR")
	}
	d, err := mirrortest.TreeDigest(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("digest: %v", err)
	}
	ts.Stdout().Write([]byte(d + "\n"))
}

// evilArchives are hostile release archives for the host platform, as go1.90.N:
//
//	1 an entry ../../evil-dotdot     5 a device file
//	2 an absolute path into $WORK    6 a header declaring a terabyte
//	3 a symlink, then a file through it    7 a header declaring fewer bytes than follow
//	4 a hard link to a file outside
func evilArchives(work string) map[string][]byte {
	version := func(v string) mirrortest.Entry {
		return mirrortest.Entry{Header: tar.Header{Name: "go/VERSION", Typeflag: tar.TypeReg}, Data: []byte(v + "\n")}
	}
	reg := func(name, data string) mirrortest.Entry {
		return mirrortest.Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg}, Data: []byte(data)}
	}
	out := map[string][]byte{}
	add := func(n int, entries ...mirrortest.Entry) {
		v := fmt.Sprintf("go1.90.%d", n)
		out[v] = mirrortest.RawTarGz(append([]mirrortest.Entry{version(v)}, entries...))
	}
	add(1, reg("go/../../evil-dotdot", "pwned"))
	add(2, reg(filepath.ToSlash(filepath.Join(work, "evil-abs")), "pwned"))
	add(3, mirrortest.Entry{Header: tar.Header{Name: "go/escape", Typeflag: tar.TypeSymlink, Linkname: work}},
		reg("go/escape/evil-symlink", "pwned"))
	add(4, mirrortest.Entry{Header: tar.Header{Name: "go/bin/go", Typeflag: tar.TypeLink, Linkname: filepath.Join(work, "victim")}})
	add(5, mirrortest.Entry{Header: tar.Header{Name: "go/dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}})
	add(6, mirrortest.Entry{Header: tar.Header{Name: "go/bin/go", Typeflag: tar.TypeReg, Size: 1 << 40}})
	out["go1.90.7"] = mirrortest.SizeLie("go1.90.7")
	return out
}

// evilHandler serves hostile archives under an index that vouches for them: extraction must
// hold even when the checksum says the bytes are the ones published.
func evilHandler(archives map[string][]byte) http.Handler {
	f := &mirrortest.Fixture{Archives: map[string][]byte{}}
	p := mirror.Host()
	for v, data := range archives {
		name := p.ArchiveName(v)
		f.Archives[name] = data
		sum := sha256.Sum256(data)
		f.Index = append(f.Index, mirror.Release{Version: v, Stable: true, Files: []mirror.File{{
			Filename: name, OS: p.OS, Arch: p.OfficialArch(), Version: v, Kind: "archive",
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}}})
	}
	return f.OfficialHandler()
}
