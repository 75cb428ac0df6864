package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/dist/scripts"
)

// host is this machine's directory in a tree.
var host = runtime.GOOS + "-" + runtime.GOARCH

// fakeGostrap is a stand-in for gostrap that records its arguments (one a line) in $FAKE_ARGS
// and prints the JSON record of an install into $FAKE_ROOT, or fails with $FAKE_EXIT.
const fakeGostrap = `#!/bin/sh
printf '%s\n' "$@" >"$FAKE_ARGS"
if [ -n "${FAKE_EXIT-}" ]; then
	printf 'gostrap: error: fake failure\n' >&2
	exit "$FAKE_EXIT"
fi
printf '{\n  "version": "go1.25.3",\n  "goroot": "%s",\n  "source": {\n    "kind": "bundle"\n  },\n  "already_installed": false\n}\n' "$FAKE_ROOT"
`

// fakeRoot is the GOROOT the fake reports: with a space and a quote, for the PATH line's quoting.
const fakeRoot = "/opt/my go's/go1.25.3"

type fixture struct {
	tree, args string
	env        []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("install.sh is for Linux, macOS and FreeBSD")
	}
	f := &fixture{tree: filepath.Join(t.TempDir(), "go-bundle")}
	fake := filepath.Join(t.TempDir(), "gostrap")
	if err := os.WriteFile(fake, []byte(fakeGostrap), 0o755); err != nil {
		t.Fatal(err)
	}
	disttest.Tree(t, f.tree, map[string]string{host: fake, "windows-amd64": fake})
	f.args = filepath.Join(t.TempDir(), "args")
	f.env = []string{"FAKE_ARGS=" + f.args, "FAKE_ROOT=" + fakeRoot}
	return f
}

// ran returns the arguments the fake gostrap was run with, or nil when it was not run.
func (f *fixture) ran(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(f.args)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func wantArgs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gostrap ran with\n  %q\nwant\n  %q", got, want)
	}
}

func wantFail(t *testing.T, r disttest.Run, code int, msg string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Stderr, msg) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", r.Code, r.Stderr, code, msg)
	}
	if lines := strings.Count(strings.TrimSpace(r.Stderr), "\n"); code != 0 && !strings.Contains(r.Stderr, "gostrap: error") && lines > 0 {
		t.Errorf("want one line of error, got:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stdout, "PATH") {
		t.Errorf("PATH line printed after a failure: %s", r.Stdout)
	}
}

func tools(t *testing.T, sh disttest.Shell, extra ...string) string {
	return disttest.ToolDir(t, sh, append(append([]string{}, disttest.BaseTools...), extra...)...)
}

func TestInstallSH(t *testing.T) {
	for _, sh := range disttest.Shells(t) {
		t.Run(sh.Name, func(t *testing.T) { testInstallSH(t, sh) })
	}
}

func testInstallSH(t *testing.T, sh disttest.Shell) {
	path := tools(t, sh, "sha256sum")

	t.Run("local", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25", "--dir", "/opt/go"}, PATH: path, Env: f.env}.Run(t, sh)
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		wantArgs(t, f.ran(t), "install", "--json", "--offline", "--bundle", f.tree, "1.25", "--dir", "/opt/go")
		want := `export PATH='/opt/my go'\''s/go1.25.3/bin':"$PATH"` + "\n"
		if r.Stdout != want {
			t.Errorf("stdout %q, want %q", r.Stdout, want)
		}
		// The line does what it says, in the shell under test.
		out, err := exec.Command(sh.Argv[0], append(sh.Argv[1:], "-c", r.Stdout+`printf %s "$PATH"`)...).Output()
		if err != nil || !strings.HasPrefix(string(out), fakeRoot+"/bin:") {
			t.Errorf("eval of the PATH line: %q, %v", out, err)
		}
		if !strings.Contains(r.Stderr, "Go go1.25.3 is in "+fakeRoot) {
			t.Errorf("stderr:\n%s", r.Stderr)
		}
	})
	t.Run("relative", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{"install.sh"}, PATH: path, Env: f.env, Dir: f.tree}.Run(t, sh)
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		wantArgs(t, f.ran(t), "install", "--json", "--offline", "--bundle", f.tree)
	})
	t.Run("own-options", func(t *testing.T) {
		// --tree names the tree; the script's options come out, the rest stay in order.
		f := newFixture(t)
		other := t.TempDir()
		script := filepath.Join(other, "install.sh")
		os.WriteFile(script, scripts.InstallSH, 0o644)
		r := disttest.Script{Args: []string{script, "--quiet", "--tree", f.tree, "go1.24.1", "--", "a b"}, PATH: path, Env: f.env}.Run(t, sh)
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		wantArgs(t, f.ran(t), "install", "--json", "--offline", "--bundle", f.tree, "--quiet", "go1.24.1", "--", "a b")
	})
	t.Run("json", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "--json"}, PATH: path, Env: f.env}.Run(t, sh)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "{\n") || !strings.Contains(r.Stdout, "export PATH=") {
			t.Errorf("exit %d, stdout:\n%s", r.Code, r.Stdout)
		}
	})
	t.Run("github-actions", func(t *testing.T) {
		f := newFixture(t)
		gp := filepath.Join(t.TempDir(), "github_path")
		os.WriteFile(gp, []byte("/earlier/bin\n"), 0o644)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25"}, PATH: path, Env: append(f.env, "GITHUB_PATH="+gp)}.Run(t, sh)
		data, _ := os.ReadFile(gp)
		if r.Code != 0 || string(data) != "/earlier/bin\n"+fakeRoot+"/bin\n" || r.Stdout != "" {
			t.Errorf("exit %d, GITHUB_PATH %q, stdout %q\n%s", r.Code, data, r.Stdout, r.Stderr)
		}
	})
	t.Run("gostrap-fails", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25"}, PATH: path, Env: append(f.env, "FAKE_EXIT=3")}.Run(t, sh)
		wantFail(t, r, 3, "gostrap: error: fake failure")
	})
	t.Run("tampered-binary", func(t *testing.T) {
		f := newFixture(t)
		bin := filepath.Join(f.tree, "gostrap", host, "gostrap")
		data, _ := os.ReadFile(bin)
		os.WriteFile(bin, append(data, "\n# changed\n"...), 0o755)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25"}, PATH: path, Env: f.env}.Run(t, sh)
		wantFail(t, r, 4, "error: checksum mismatch: gostrap/"+host+"/gostrap has sha256 ")
		if f.ran(t) != nil {
			t.Errorf("the tampered gostrap ran")
		}
	})
	t.Run("tampered-sums", func(t *testing.T) {
		f := newFixture(t)
		sums := filepath.Join(f.tree, "gostrap", "SHA256SUMS")
		data, _ := os.ReadFile(sums)
		os.WriteFile(sums, []byte(strings.Replace(string(data), host+"/gostrap", host+"/gostrap-other", 1)+
			strings.Repeat("0", 64)+"  "+host+"/gostrap\n"), 0o644)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25"}, PATH: path, Env: f.env}.Run(t, sh)
		wantFail(t, r, 4, "SHA256SUMS says "+strings.Repeat("0", 64))
		if f.ran(t) != nil {
			t.Errorf("gostrap ran against a tampered SHA256SUMS")
		}
	})
	t.Run("no-sums", func(t *testing.T) {
		f := newFixture(t)
		os.Remove(filepath.Join(f.tree, "gostrap", "SHA256SUMS"))
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh")}, PATH: path, Env: f.env}.Run(t, sh)
		wantFail(t, r, 1, "SHA256SUMS: not found")
	})
	t.Run("no-checksum-tool", func(t *testing.T) {
		f := newFixture(t)
		bare := tools(t, sh)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25"}, PATH: bare, Env: f.env}.Run(t, sh)
		wantFail(t, r, 1, "error: no sha256 tool (sha256sum, shasum, sha256 or openssl) to check gostrap with")
		if f.ran(t) != nil {
			t.Fatalf("gostrap ran unchecked")
		}
		r = disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "--no-verify", "1.25"}, PATH: bare, Env: f.env}.Run(t, sh)
		if r.Code != 0 || !strings.Contains(r.Stderr, "warning: --no-verify") {
			t.Errorf("--no-verify: exit %d\n%s", r.Code, r.Stderr)
		}
		wantArgs(t, f.ran(t), "install", "--json", "--offline", "--bundle", f.tree, "1.25")
	})
	for _, tool := range []string{"shasum", "sha256", "openssl"} {
		t.Run("with-"+tool, func(t *testing.T) {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s is not installed", tool)
			}
			f := newFixture(t)
			r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh")}, PATH: tools(t, sh, tool, "perl"), Env: f.env}.Run(t, sh)
			if r.Code != 0 || f.ran(t) == nil {
				t.Errorf("exit %d\n%s", r.Code, r.Stderr)
			}
			// and it still refuses a mismatch
			bin := filepath.Join(f.tree, "gostrap", host, "gostrap")
			data, _ := os.ReadFile(bin)
			os.WriteFile(bin, append(data, '\n'), 0o755)
			os.Remove(f.args)
			r = disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh")}, PATH: tools(t, sh, tool, "perl"), Env: f.env}.Run(t, sh)
			wantFail(t, r, 4, "checksum mismatch")
		})
	}
	t.Run("unsupported-platform", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh")}, PATH: path, Env: append(f.env, "GOSTRAP_PLATFORM=plan9/mips")}.Run(t, sh)
		wantFail(t, r, 1, "error: unsupported platform: plan9/mips: this tree has gostrap for: "+host+" windows-amd64")
	})
	t.Run("not-a-tree", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "install.sh"), scripts.InstallSH, 0o644)
		r := disttest.Script{Args: []string{filepath.Join(dir, "install.sh")}, PATH: path}.Run(t, sh)
		wantFail(t, r, 1, "SHA256SUMS: not found: this is not a gostrap tree")
	})
	t.Run("help", func(t *testing.T) {
		f := newFixture(t)
		r := disttest.Script{Args: []string{filepath.Join(f.tree, "install.sh"), "1.25", "--help"}, PATH: path, Env: f.env}.Run(t, sh)
		if r.Code != 0 || !strings.Contains(r.Stdout, "GOSTRAP_TREE=http://mirror.lan/go sh -s -- 1.25") || f.ran(t) != nil {
			t.Errorf("--help: exit %d, stdout:\n%s", r.Code, r.Stdout)
		}
	})
	t.Run("piped-without-tree", func(t *testing.T) {
		r := disttest.Script{Args: []string{"-s", "--", "1.25"}, Stdin: scripts.InstallSH, PATH: path}.Run(t, sh)
		wantFail(t, r, 1, "GOSTRAP_TREE=URL sh -s -- VERSION")
	})

	for _, dl := range []string{"curl", "wget"} {
		t.Run("remote-"+dl, func(t *testing.T) {
			if sh.Busybox && dl == "wget" {
				// busybox's own wget, as on Alpine
			} else if _, err := exec.LookPath(dl); err != nil {
				t.Skipf("%s is not installed (apt-get install %s)", dl, dl)
			}
			f := newFixture(t)
			url := disttest.Serve(t, f.tree)
			p := tools(t, sh, "sha256sum", dl)
			r := disttest.Script{Args: []string{"-s", "--", "1.25"}, Stdin: scripts.InstallSH, PATH: p, Env: append(f.env, "GOSTRAP_TREE="+url+"/")}.Run(t, sh)
			if r.Code != 0 {
				t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
			}
			wantArgs(t, f.ran(t), "install", "--json", "--official", url+"/", "--mirror", url+"/", "--goproxy", url, "1.25")
			// --tree, and a tampered binary on the server
			bin := filepath.Join(f.tree, "gostrap", host, "gostrap")
			data, _ := os.ReadFile(bin)
			os.WriteFile(bin, append(data, '\n'), 0o755)
			os.Remove(f.args)
			r = disttest.Script{Args: []string{"-s", "--", "--tree", url, "1.25"}, Stdin: scripts.InstallSH, PATH: p, Env: f.env}.Run(t, sh)
			wantFail(t, r, 4, "checksum mismatch")
			if f.ran(t) != nil {
				t.Errorf("the tampered gostrap ran")
			}
			// a platform the tree lists but does not hold
			os.Remove(bin)
			r = disttest.Script{Args: []string{"-s", "--", "--tree", url}, Stdin: scripts.InstallSH, PATH: p, Env: f.env}.Run(t, sh)
			wantFail(t, r, 1, url+"/gostrap/"+host+"/gostrap: cannot read it")
		})
	}
	t.Run("no-downloader", func(t *testing.T) {
		f := newFixture(t)
		url := disttest.Serve(t, f.tree)
		r := disttest.Script{Args: []string{"-s", "--", "1.25"}, Stdin: scripts.InstallSH, PATH: path, Env: append(f.env, "GOSTRAP_TREE="+url)}.Run(t, sh)
		wantFail(t, r, 1, "error: neither curl nor wget is installed")
	})
}

// TestInstallSHGostrap runs the script with a real gostrap: on a tree with no releases,
// 'gostrap install --offline' fails with gostrap's own error, and so does the script, with
// gostrap's exit status; served over http, the same.
func TestInstallSHGostrap(t *testing.T) {
	shells := disttest.Shells(t)
	if runtime.GOOS == "windows" {
		t.Skip("install.sh is for Linux, macOS and FreeBSD")
	}
	gostrap := disttest.Gostrap(t)
	tree := filepath.Join(t.TempDir(), "go-bundle")
	disttest.Tree(t, tree, map[string]string{host: gostrap})
	url := disttest.Serve(t, tree)
	for _, sh := range shells {
		t.Run(sh.Name, func(t *testing.T) {
			path := tools(t, sh, "sha256sum", "curl")
			r := disttest.Script{Args: []string{filepath.Join(tree, "install.sh"), "1.25"}, PATH: path}.Run(t, sh)
			if r.Code == 0 || !strings.Contains(r.Stderr, "gostrap: error: ") || strings.Contains(r.Stdout, "PATH") {
				t.Errorf("local: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			t.Logf("local: exit %d\n%s", r.Code, r.Stderr)
			r = disttest.Script{Args: []string{"-s", "--", "1.25"}, Stdin: scripts.InstallSH, PATH: path, Env: []string{"GOSTRAP_TREE=" + url}}.Run(t, sh)
			if r.Code == 0 || !strings.Contains(r.Stderr, "gostrap: error: ") || strings.Contains(r.Stdout, "PATH") {
				t.Errorf("remote: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			t.Logf("remote: exit %d\n%s", r.Code, r.Stderr)
		})
	}
}
