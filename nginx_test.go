package gostrap

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// readmeNginx is the nginx snippet of the README, the lines a fleet's administrator copies.
func readmeNginx(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- nginx snippet begin")
	block, _, ok2 := strings.Cut(rest, "<!-- nginx snippet end")
	if !ok || !ok2 {
		t.Fatal("README.md has no nginx snippet between its markers")
	}
	var lines []string
	for _, l := range strings.Split(block, "\n")[1:] {
		if strings.HasPrefix(l, "    ") {
			lines = append(lines, strings.TrimPrefix(l, "    "))
		}
	}
	return strings.Join(lines, "\n")
}

// startNginx runs the real nginx on a loopback port with its own prefix and configuration,
// the README's snippet as the server's location, the tree at /srv/go; it is stopped at the end.
func startNginx(t *testing.T, tree string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the tests run nginx on Linux")
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("GOSTRAP_TESTNET") == "require" {
			t.Fatal("nginx is not installed (apt-get install -y nginx-light)")
		}
		t.Skip("nginx is not installed (apt-get install -y nginx-light)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	prefix := t.TempDir()
	if err := os.Chmod(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"logs", "tmp"} {
		os.MkdirAll(filepath.Join(prefix, d), 0o755)
	}
	snippet := strings.ReplaceAll(readmeNginx(t), "/srv/go/", tree+"/")
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 64; }
http {
  access_log %[1]s/logs/access.log;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  default_type application/octet-stream;
  types { application/json json; }
  server {
    listen %[2]s;
%[3]s
  }
}
`, prefix, addr, snippet)
	confPath := filepath.Join(prefix, "nginx.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "logs", "error.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
			t.Fatalf("nginx did not start:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr + "/go/"
}

// A synced tree served by the real nginx with the README's snippet: gostrap installs from it
// as an official site, as a flat mirror and as GOPROXY, and so does the go command.
func TestNginxServesASyncedTree(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	tree := filepath.Join(t.TempDir(), "srv-go")
	o := testOptions(t, s)
	if _, err := mustInstaller(t, o).SyncTree(context.Background(), TreeOptions{Out: tree, Specs: []string{"1.22.3", "1.21.13"}, Zips: true, Archives: true}); err != nil {
		t.Fatal(err)
	}
	// nginx's workers read the tree as another user: open the test's directories to them.
	for d := tree; strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	base := startNginx(t, tree)
	// The index answers go.dev's query (the old snippet looped to a 500 here).
	resp, err := http.Get(base + "?mode=json&include=all")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("?mode=json: %s", resp.Status)
	}
	closed := mirrortest.ClosedURL()
	for _, tc := range []struct {
		name   string
		set    func(o *Options)
		method string
	}{
		{"--official", func(o *Options) { o.Official, o.GOPROXY = []string{base}, "off" }, "sha256"},
		{"--mirror", func(o *Options) {
			o.Official, o.Mirrors, o.Sources = []string{s.OfficialURL()}, []string{base}, []Kind{KindMirror}
		}, "sha256"},
		{"GOPROXY", func(o *Options) {
			o.Official, o.GOPROXY, o.Sources = []string{closed}, strings.TrimSuffix(base, "/"), []Kind{KindProxy}
		}, "sumdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, s)
			tc.set(&o)
			rep, err := install(t, mustInstaller(t, o), "1.22")
			if err != nil || rep.Version != "go1.22.3" || rep.Verified.Method != tc.method || !strings.HasPrefix(rep.Source.URL, base) {
				t.Fatalf("%v: %s from %+v verified %+v", err, rep.Version, rep.Source, rep.Verified)
			}
		})
	}
	t.Run("the go command", func(t *testing.T) { goVersionThrough(t, strings.TrimSuffix(base, "/"), "go1.21.13") })
}
