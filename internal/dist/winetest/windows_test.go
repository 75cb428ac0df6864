package winetest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/dist/winetest"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

var win = mirror.Platform{OS: "windows", Arch: "amd64"}

// TestWindowsInstall installs Go with gostrap.exe under wine, from a bundle that this
// machine's gostrap made from test servers on loopback, and runs the installed go.exe. The
// toolchains are the fixture's, whose go.exe is a real Windows program (mirrortest's
// GoCommand) that answers 'go version'. What wine cannot show is logged as such, and listed
// in the package doc.
func TestWindowsInstall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("wine runs on Linux")
	}
	w := winetest.Require(t)
	start := time.Now()
	step := func(what string, since time.Time) { t.Logf("%s: %v", what, time.Since(since).Round(time.Millisecond)) }
	mod := disttest.ModuleDir(t)

	// The programs: gostrap.exe, this machine's gostrap for the bundle, and the go.exe of the
	// fixture's releases.
	s := time.Now()
	exe := winetest.BuildExe(t, mod, "./cmd/gostrap")
	host := disttest.Gostrap(t)
	goexe, err := mirrortest.BuildGoCommand(win)
	if err != nil {
		t.Fatal(err)
	}
	step("builds (gostrap.exe, gostrap, go.exe)", s)

	// The bundle, made here from the fixture's proxy and checksum database on loopback.
	s = time.Now()
	f, err := mirrortest.New(mirrortest.Options{Versions: []string{"go1.21.13", "go1.22.3"}, Platforms: []mirror.Platform{win},
		GoCommand: map[mirror.Platform][]byte{win: goexe}})
	if err != nil {
		t.Fatal(err)
	}
	srv := mirrortest.Start(t, f)
	work := t.TempDir()
	bundle := filepath.Join(work, "usb", "go-bundle")
	create := exec.Command(host, "bundle", "create", "--out", bundle, "--version", "1.22.3", "--version", "1.21.13",
		"--platform", "windows/amd64", "--goproxy", srv.ProxyURL())
	create.Env = append(os.Environ(), "GOSTRAP_DIR="+filepath.Join(work, "host-go"), "GOSTRAP_CACHE="+filepath.Join(work, "host-cache"),
		"GOSTRAP_OFFICIAL="+srv.OfficialURL(), "GOSTRAP_MIRRORS=off", "GOPROXY=off", "GOSUMDB="+srv.GOSUMDB(),
		download.TestNetworkEnv+"=loopback")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("gostrap bundle create: %v\n%s", err, out)
	}
	step("bundle create (2 releases for windows/amd64)", s)

	// gostrap.exe under wine: its directories on wine's Z: drive (this machine's /), no
	// network, the checksum database's key from the environment as GOSUMDB.
	dir := filepath.Join(work, "Go Toolchains")
	cache := filepath.Join(work, "cache")
	env := append(w.Env(), "GOSUMDB="+srv.GOSUMDB(), "GOSTRAP_CACHE="+winetest.Path(cache), "GOSTRAP_OFFICIAL=off",
		"GOSTRAP_MIRRORS=off", "GOPROXY=off", "GOSTRAP_MEDIA=", "MSYSTEM=", download.TestNetworkEnv+"=loopback")
	run := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.Command(w.Loader, append([]string{exe}, args...)...)
		cmd.Env = env
		cmd.Dir = work
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		s := time.Now()
		err = cmd.Run()
		t.Logf("gostrap.exe %s (%v): exit %v\n%s%s", strings.Join(args, " "), time.Since(s).Round(time.Millisecond), err,
			o.String(), e.String())
		return strings.ReplaceAll(o.String(), "\r\n", "\n"), e.String(), err
	}
	must := func(args ...string) (string, string) {
		t.Helper()
		o, e, err := run(args...)
		if err != nil {
			t.Fatalf("gostrap.exe %s: %v", strings.Join(args, " "), err)
		}
		// The one warning expected here is that wine cannot hold <dir>\current.
		for _, line := range strings.Split(e, "\n") {
			if strings.Contains(line, "warning:") && !strings.Contains(line, `current cannot be made`) {
				t.Errorf("gostrap.exe %s: %s", strings.Join(args, " "), line)
			}
		}
		return o, e
	}
	wdir := winetest.Path(dir)
	root := func(v string) string { return winetest.Path(filepath.Join(dir, v)) }

	// Install, offline, from the bundle: the first toolchain becomes current.
	s = time.Now()
	out, _ := must("install", "--offline", "--bundle", winetest.Path(bundle), "1.22.3", "--dir", wdir, "--json")
	var rep struct {
		GOROOT   string `json:"goroot"`
		Current  bool   `json:"current"`
		Verified struct {
			Method string `json:"method"`
		} `json:"verified"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("install --json: %v\n%s", err, out)
	}
	if rep.GOROOT != root("go1.22.3") || !rep.Current || rep.Verified.Method != "sumdb-offline" {
		t.Errorf("install report: %+v; want goroot %s, current, sumdb-offline", rep, root("go1.22.3"))
	}
	must("install", "--offline", "--bundle", winetest.Path(bundle), "1.21.13", "--dir", wdir)
	step("two offline installs", s)
	if data, err := os.ReadFile(filepath.Join(dir, ".gostrap", "current")); err != nil || string(data) != "go1.22.3\n" {
		t.Errorf("record of the current toolchain: %q, %v", data, err)
	}

	// use switches. <dir>\current is a junction where Windows can make one; wine cannot, and
	// gostrap says so and keeps the record alone.
	out, stderr := must("use", "1.21.13", "--dir", wdir)
	if !strings.Contains(out, "now using go1.21.13") {
		t.Errorf("use: %s", out)
	}
	_, lerr := os.Lstat(filepath.Join(dir, "current"))
	links := lerr == nil
	if links {
		t.Log("wine made <dir>\\current: testing the toolchain through it")
	} else {
		t.Logf("WINE CANNOT SHOW: the <dir>\\current junction (FSCTL_SET_REPARSE_POINT: not supported); gostrap warned:\n%s", stderr)
		if !strings.Contains(stderr, `current cannot be made`) || !strings.Contains(stderr, "gostrap env") {
			t.Errorf("no warning that <dir>\\current cannot be made; stderr:\n%s", stderr)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, ".gostrap", "current")); err != nil || string(data) != "go1.21.13\n" {
		t.Errorf("record after use: %q, %v", data, err)
	}

	// env follows, in cmd and PowerShell.
	want := root("go1.21.13")
	if links {
		want = wdir + `\current`
	}
	out, _ = must("env", "--shell", "cmd", "--dir", wdir)
	if wantCmd := `set "GOROOT=` + want + "\"\nset \"PATH=" + want + `\bin;%PATH%"` + "\n"; out != wantCmd {
		t.Errorf("env --shell cmd:\n%s\nwant:\n%s", out, wantCmd)
	}
	cmdLines := out
	out, _ = must("env", "--shell", "powershell", "--dir", wdir)
	if !strings.Contains(out, "$env:GOROOT = '"+want+"'") || !strings.Contains(out, "$env:PATH = '"+want+`\bin' + [IO.Path]::PathSeparator + $env:PATH`) {
		t.Errorf("env --shell powershell:\n%s", out)
	}
	// Under Git Bash, PATH's entry is a POSIX path.
	env = append(env, "MSYSTEM=MINGW64")
	out, _ = must("env", "--shell", "sh", "--dir", wdir)
	env = env[:len(env)-1]
	posix := "/z" + filepath.ToSlash(filepath.Join(dir, "go1.21.13", "bin"))
	if links {
		posix = "/z" + filepath.ToSlash(filepath.Join(dir, "current", "bin"))
	}
	if !strings.Contains(out, "export PATH='"+posix+`':"$PATH"`) {
		t.Errorf("env --shell sh under MSYSTEM:\n%s\nwant PATH '%s'", out, posix)
	}

	// The installed go.exe: through the junction when there is one, else directly; then
	// through the PATH that env's cmd lines make, in wine's cmd.exe.
	gobin := filepath.Join(dir, "go1.21.13", "bin", "go.exe")
	if links {
		gobin = filepath.Join(dir, "current", "bin", "go.exe")
	} else {
		t.Log("WINE CANNOT SHOW: go.exe run through <dir>\\current; running it from its own directory")
	}
	gv, err := w.Command(gobin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(gv)) != "go version go1.21.13 windows/amd64" {
		t.Errorf("go.exe version: %q, %v", gv, err)
	}
	bat := filepath.Join(work, "go-env.cmd")
	if err := os.WriteFile(bat, []byte(strings.ReplaceAll(cmdLines, "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	viaCmd := w.Command("cmd", "/c", "call "+winetest.Path(bat)+" && go version")
	viaCmd.Dir = work
	if gv, err := viaCmd.CombinedOutput(); err != nil || !strings.Contains(string(gv), "go version go1.21.13 windows/amd64") {
		t.Errorf("cmd /c call go-env.cmd && go version: %q, %v", gv, err)
	}

	// A reinstall of an intact toolchain repairs a missing current.
	if err := os.Remove(filepath.Join(dir, ".gostrap", "current")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "current"))
	out, _ = must("install", "--offline", "--bundle", winetest.Path(bundle), "1.22.3", "--dir", wdir, "--json")
	if !strings.Contains(out, `"already_installed": true`) || !strings.Contains(out, `"current": true`) {
		t.Errorf("reinstall with no current: %s", out)
	}
	if out, _ := must("current", "--dir", wdir); !strings.Contains(out, "go1.22.3") {
		t.Errorf("current after the reinstall: %s", out)
	}

	// Uninstall, the current one with --force: the tree goes through the trash, which is
	// emptied file by file (os.RemoveAll fails under wine on every file).
	if out, _ := must("uninstall", "1.22.3", "--force", "--dir", wdir); !strings.Contains(out, "go1.21.13 is current now") {
		t.Errorf("uninstall --force: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "go1.22.3")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("go1.22.3 still there: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ".gostrap", "trash")); len(ents) != 0 {
		t.Errorf("the trash holds %s", ents[0].Name())
	}
	out, _ = must("list", "--dir", wdir)
	if !strings.Contains(out, "* go1.21.13") || strings.Contains(out, "go1.22.3") {
		t.Errorf("list after uninstall:\n%s", out)
	}
	t.Log("WINE CANNOT SHOW: a file held open by a running go.exe or a virus scan (wine renames a directory " +
		"holding an open file, which Windows refuses); the retries are covered by internal/layout's tests")
	step("TestWindowsInstall in all", start)
}
