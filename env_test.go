package gostrap

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestMSYSPath(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Users\Ann Lee\AppData\Local\gostrap\current\bin`: "/c/Users/Ann Lee/AppData/Local/gostrap/current/bin",
		`d:\go\bin`:                      "/d/go/bin",
		`C:\`:                            "/c/",
		`C:`:                             "/c",
		`\\?\C:\very\long\bin`:           "/c/very/long/bin",
		`\\fileserver\tools\gostrap\bin`: "//fileserver/tools/gostrap/bin",
		`\\?\UNC\fileserver\tools\bin`:   "//fileserver/tools/bin",
		"/c/already/posix":               "/c/already/posix",
		`C:relative`:                     "C:relative",
	} {
		if got := msysPath(in); got != want {
			t.Errorf("msysPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	win := Env{GOROOT: `C:\Users\O'Neil\100%\gostrap\current`, Bin: `C:\Users\O'Neil\100%\gostrap\current\bin`}
	for _, tc := range []struct {
		name, shell string
		msys        bool
		e           Env
		want        string
	}{
		{"sh", "sh", false, Env{GOROOT: "/home/ann/go's/current", Bin: "/home/ann/go's/current/bin"},
			"export GOROOT='/home/ann/go'\\''s/current'\nexport PATH='/home/ann/go'\\''s/current/bin':\"$PATH\"\n"},
		{"git bash", "bash", true, win,
			"export GOROOT='C:\\Users\\O'\\''Neil\\100%\\gostrap\\current'\n" +
				"export PATH='/c/Users/O'\\''Neil/100%/gostrap/current/bin':\"$PATH\"\n"},
		{"msys fish", "fish", true, win,
			"set -gx GOROOT 'C:\\Users\\O'\\''Neil\\100%\\gostrap\\current'\nset -gx PATH '/c/Users/O'\\''Neil/100%/gostrap/current/bin' $PATH\n"},
		{"powershell", "powershell", true, win,
			"$env:GOROOT = 'C:\\Users\\O''Neil\\100%\\gostrap\\current'\n$env:PATH = 'C:\\Users\\O''Neil\\100%\\gostrap\\current\\bin' + [IO.Path]::PathSeparator + $env:PATH\n"},
		{"cmd", "cmd", false, win,
			"set \"GOROOT=C:\\Users\\O'Neil\\100%%\\gostrap\\current\"\r\nset \"PATH=C:\\Users\\O'Neil\\100%%\\gostrap\\current\\bin;%PATH%\"\r\n"},
		{"cmd & ^", "cmd", false, Env{GOROOT: `D:\R&D ^x\go`, Bin: `D:\R&D ^x\go\bin`},
			"set \"GOROOT=D:\\R&D ^x\\go\"\r\nset \"PATH=D:\\R&D ^x\\go\\bin;%PATH%\"\r\n"},
	} {
		got, err := tc.e.render(tc.shell, tc.msys)
		if err != nil || got != tc.want {
			t.Errorf("%s: render:\n%s\nwant:\n%s(%v)", tc.name, got, tc.want, err)
		}
	}
	if _, err := win.Render("tcsh"); err == nil || !strings.Contains(err.Error(), "cmd") {
		t.Errorf("unknown shell: %v", err)
	}
}

// TestRenderCmdRuns runs the cmd lines in cmd.exe, on Windows (and under wine, where the test
// binary is cross-compiled and run by internal/dist/winetest): written to a batch file and
// called, they set GOROOT and put bin first on PATH, percent signs and ampersands intact.
func TestRenderCmdRuns(t *testing.T) {
	if runtime.GOOS != "windows" {
		t.Skip("cmd.exe is Windows'")
	}
	name := `R&D ^1 100%`
	if underWine() {
		// wine 8's cmd.exe drops %% in a batch file where Windows' gives %: it cannot show
		// how a percent sign in a path fares.
		t.Log("under wine: no percent sign in the path (wine's cmd.exe reads %% in a batch file as nothing)")
		name = `R&D ^1`
	}
	dir := filepath.Join(t.TempDir(), name)
	e := Env{GOROOT: dir, Bin: filepath.Join(dir, "bin")}
	out, err := e.Render("cmd")
	if err != nil {
		t.Fatal(err)
	}
	bat := filepath.Join(t.TempDir(), "go-env.cmd")
	// Quoted, the echoed values keep their ampersands.
	script := "@echo off\r\n" + out + "echo \"GOROOT=[%GOROOT%]\"\r\necho \"PATH=[%PATH%]\"\r\n"
	if err := os.WriteFile(bat, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cmd", "/c", "call", bat)
	cmd.Env = append(os.Environ(), "PATH=C:\\before")
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	text := strings.ReplaceAll(string(got), "\r\n", "\n")
	if !strings.Contains(text, "GOROOT=["+dir+"]") || !strings.Contains(text, "PATH=["+e.Bin+";C:\\before]") {
		t.Errorf("cmd /c call %s:\n%s", bat, got)
	}
}

func TestDefaultDirs(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	home := func() (string, error) { return filepath.Join("home", "ann"), nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	local := filepath.Join("Users", "ann", "AppData", "Local")
	userCache := func() (string, error) { return local, nil }
	for _, tc := range []struct {
		name, goos string
		env        func(string) string
		dir, cache string
	}{
		{"linux", "linux", env(), filepath.Join("home", "ann", ".local", "share", "gostrap"), filepath.Join(local, "gostrap")},
		{"linux xdg", "linux", env("XDG_DATA_HOME", "xdg", "LOCALAPPDATA", "ignored"), filepath.Join("xdg", "gostrap"), filepath.Join(local, "gostrap")},
		{"windows", "windows", env("LOCALAPPDATA", local), filepath.Join(local, "gostrap"), filepath.Join(local, "gostrap", "cache")},
		{"windows without LOCALAPPDATA", "windows", env(), filepath.Join("home", "ann", "AppData", "Local", "gostrap"), filepath.Join(local, "gostrap", "cache")},
		{"GOSTRAP_CACHE", "windows", env("LOCALAPPDATA", local, "GOSTRAP_CACHE", "D:cache"), filepath.Join(local, "gostrap"), "D:cache"},
	} {
		dir, err := defaultDir(tc.goos, tc.env, home)
		cache, cerr := defaultCacheDir(tc.goos, tc.env, userCache)
		if err != nil || cerr != nil || dir != tc.dir || cache != tc.cache {
			t.Errorf("%s: dir %q, cache %q (%v, %v); want %q, %q", tc.name, dir, cache, err, cerr, tc.dir, tc.cache)
		}
		if dir == cache {
			t.Errorf("%s: install directory and cache are both %s", tc.name, dir)
		}
	}
	if _, err := defaultDir("linux", env(), noHome); err == nil || !strings.Contains(err.Error(), "GOSTRAP_DIR") {
		t.Errorf("no home: %v", err)
	}
	// The real ones, on this system.
	dir, err := DefaultDir()
	cache, cerr := DefaultCacheDir()
	if err == nil && cerr == nil && (dir == cache || os.Getenv("GOSTRAP_CACHE") == "" && strings.HasPrefix(dir, cache+string(filepath.Separator))) {
		t.Errorf("DefaultDir %s and DefaultCacheDir %s overlap", dir, cache)
	}
	t.Logf("on %s: install %s, cache %s", runtime.GOOS, dir, cache)
}
