package main

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// A password given in any URL gostrap reads (every element of GOPROXY, --official, --mirror,
// HTTPS_PROXY and HTTP_PROXY, a GOSUMDB URL, a doctor URL) never appears in anything it prints:
// human output, --json, doctor, errors, logs and progress, for installs that succeed and that
// fail, list --remote, doctor, bundle and mirror.
func TestSecretsNeverPrinted(t *testing.T) {
	buildFixture()
	s := mirrortest.Start(t, fixture)
	const pw = "Pw7f3c9eS3cret"
	secret := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword("user", pw)
		return u.String()
	}
	proxy := httptest.NewServer(&mirrortest.HTTPProxy{Auth: "user:" + pw})
	defer proxy.Close()
	closed := mirrortest.ClosedURL()
	work := t.TempDir()
	// Away from this repository's go.mod: env, which and current pick the current toolchain.
	t.Chdir(work)
	t.Setenv("GOSTRAP_DIR", filepath.Join(work, "go"))
	t.Setenv("GOSTRAP_CACHE", filepath.Join(work, "cache"))
	t.Setenv("HOME", filepath.Join(work, "home"))
	t.Setenv("HTTPS_PROXY", secret(proxy.URL))
	t.Setenv("HTTP_PROXY", secret(proxy.URL))
	t.Setenv("NO_PROXY", "")
	t.Setenv("GOSUMDB", s.GOSUMDB())
	t.Setenv("GOSTRAP_IDLE_TIMEOUT", "1s")
	// The closed proxy first, and "|" after it: the checksum database, reached through the
	// proxies, answers from the second, so that bundle create makes a bundle to verify.
	goproxy := secret(closed) + "|" + secret(s.ProxyURL()) + "," + secret(closed)
	sources := []string{"--official", secret(s.OfficialURL()), "--official", secret(closed),
		"--mirror", secret(s.MirrorURL()), "--mirror", secret(closed), "--goproxy", goproxy}
	failing := []string{"--official", secret(closed), "--mirror", secret(closed), "--goproxy", secret(closed)}
	bundle := filepath.Join(work, "bundle")
	tree := filepath.Join(work, "tree")

	runs := [][]string{
		append([]string{"install", "1.22.3"}, sources...),
		append([]string{"install", "1.21.13", "--json"}, sources...),
		append([]string{"install", "1.99.1"}, sources...),
		append([]string{"install", "1.99.1", "--json"}, sources...),
		append([]string{"install", "1.20.14"}, failing...),
		append([]string{"install", "1.20.14", "--json"}, failing...),
		append([]string{"install", "1.20", "--sources", "mirror"}, append(failing[:2:2], "--mirror", secret(s.MirrorURL()), "--official", secret(closed))...),
		append([]string{"list", "--remote"}, sources...),
		append([]string{"list", "--remote", "--json"}, sources...),
		append([]string{"list", "--remote"}, failing...),
		append([]string{"doctor"}, sources...),
		append([]string{"doctor", "--json"}, sources...),
		append([]string{"doctor"}, failing...),
		{"doctor", secret(s.OfficialURL()), secret(closed)},
		{"doctor", "--json", secret(s.OfficialURL()), secret(closed)},
		append([]string{"bundle", "create", "--out", bundle, "--version", "1.22.3"}, sources...),
		{"bundle", "verify", bundle, "--gosumdb", s.GOSUMDB() + " " + secret(s.ProxyURL()+"/sumdb/sum.test")},
		append([]string{"bundle", "create", "--out", filepath.Join(work, "b2"), "--version", "1.22.3"}, failing...),
		append([]string{"mirror", "sync", "--out", tree, "--version", "1.22.3", "--json"}, sources...),
		append([]string{"mirror", "sync", "--out", filepath.Join(work, "t2"), "--version", "1.22.3"}, failing...),
		append([]string{"install", "1.22.0", "--sources", "proxy", "--gosumdb", s.GOSUMDB() + " " + secret(s.ProxyURL()+"/sumdb/sum.test")}, sources...),
		{"list"}, {"env"},
		// The everyday commands, and exec installing through every source first.
		append([]string{"exec", "1.20.14"}, append(sources, "--", "go", "version")...),
		append([]string{"exec", "1.99.1"}, append(sources, "--", "go", "version")...),
		{"which"}, {"which", "--json"}, {"current", "--json"}, {"use", "1.22.3", "--json"},
		{"uninstall", "1.20.14", "--json"}, {"cache", "list"}, {"cache", "list", "--json"},
		{"cache", "prune", "--dry-run"}, {"cache", "clean", "--json"},
		// Bad input echoes the offending value: the password in it is still redacted.
		{"install", "--goproxy", "ftp" + strings.TrimPrefix(secret(s.ProxyURL()), "http")},
		{"install", "--official", "ftp" + strings.TrimPrefix(secret(s.OfficialURL()), "http")},
		{"install", "--mirror", secret(s.MirrorURL()) + " x"},
		{"install", "--goproxy", secret(s.ProxyURL()) + ",garbage"},
		{"doctor", "ftp" + strings.TrimPrefix(secret(s.OfficialURL()), "http")},
		{"install", "--gosumdb", s.GOSUMDB() + " ftp" + strings.TrimPrefix(secret(s.ProxyURL()), "http")},
		{"install", "1.22.3"}, // with GOPROXY set below
		// A proxy variable may leave out its scheme, as net/http allows: user:pass@host:port.
		{"doctor"}, {"doctor", "--json"}, append([]string{"install", "1.20.14"}, failing...),
	}
	schemeless := len(runs) - 3
	for i, args := range runs {
		switch i {
		case schemeless - 1:
			// A bad GOPROXY from the environment, checked before any request, is echoed too.
			t.Setenv("GOPROXY", secret(closed)+",garbage")
		case schemeless:
			t.Setenv("GOPROXY", "off")
			t.Setenv("HTTPS_PROXY", strings.TrimPrefix(secret(proxy.URL), "http://"))
			t.Setenv("HTTP_PROXY", strings.TrimPrefix(secret(closed), "http://"))
		}
		var stdout, stderr bytes.Buffer
		code := Main(args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.Contains(out, pw) || strings.Contains(out, url.QueryEscape(pw)) {
			t.Errorf("gostrap %s (exit %d) printed the password:\n%s", strings.Join(args[:min(2, len(args))], " "), code, out)
		}
		// The everyday commands name no secret: they are here for their output, which a run
		// that fails (in this repository's go.mod, say) would never print.
		if i < schemeless-1 && !strings.Contains(strings.Join(args, " "), pw) && code != 0 {
			t.Errorf("gostrap %s: exit %d, want 0:\n%s", strings.Join(args, " "), code, out)
		}
		if !strings.Contains(out, "xxxxx@") && strings.Contains(strings.Join(args, " "), pw) && code != 0 {
			t.Logf("gostrap %s (exit %d): no URL printed", strings.Join(args[:min(2, len(args))], " "), code)
		}
	}
}
