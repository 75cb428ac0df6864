package gostrap

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// On a terminal the download shows a bar with the total, a percentage, the rate and the time
// left; log lines come on lines of their own. The real binary runs under script(1), which
// gives it a pseudo-terminal, against an archive served at 8 MiB/s.
func TestProgressOnTerminal(t *testing.T) {
	bin := gostrapBinary(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to give gostrap a terminal (Debian: bsdutils)")
	}
	f := interruptFixture()
	s := mirrortest.Start(t, f)
	name := mirrortest.Host.ArchiveName("go1.22.3")
	official := f.OfficialHandler()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.HasSuffix(req.URL.Path, ".tar.gz") {
			official.ServeHTTP(w, req)
			return
		}
		req.Header.Del("Range")
		pw := &paceWriter{ResponseWriter: w, rate: 8 << 20, after: 1 << 62, start: time.Now(), r: newReached(), served: &served}
		http.ServeContent(pw, req, name, time.Time{}, bytes.NewReader(f.Archives[name]))
	}))
	defer srv.Close()
	dir := t.TempDir()
	env := procEnv(s, filepath.Join(dir, "go"), filepath.Join(dir, "cache"), "GOSTRAP_OFFICIAL="+srv.URL+"/dl/", "TERM=xterm", "COLUMNS=100")
	for i, e := range env {
		if e == "GOSTRAP_QUIET=1" {
			env[i] = "GOSTRAP_QUIET=0"
		}
	}
	cmd := exec.Command(script, "-qefc", bin+" install --sources official 1.22.3", "/dev/null")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install under a terminal: %v\n%q", err, out)
	}
	screen := string(out)
	// A frame of the bar: "go1.22.3.linux-amd64.tar.gz  37% |█████     | (7.5/20 MiB, 8.0 MiB/s) [0s:1s]".
	frame := regexp.MustCompile(`(\d+)% \|[^|]*\| \(([\d.]+)/([\d.]+) MiB, ([\d.]+) MiB/s\) \[(\d+)s:(\d+)s\]`)
	frames := frame.FindAllStringSubmatch(screen, -1)
	if len(frames) < 3 {
		t.Fatalf("no bar with percentage, total, rate and time left on the terminal:\n%q", screen)
	}
	var last string
	for _, m := range frames {
		if m[3] != frames[0][3] {
			t.Errorf("the total changed from %s to %s MiB", frames[0][3], m[3])
		}
		last = m[1]
	}
	t.Logf("%d frames, total %s MiB, e.g. %q; last at %s%%", len(frames), frames[0][3], frames[len(frames)/2][0], last)
	for _, line := range strings.Split(screen, "\n") {
		visible := line[strings.LastIndex(line, "\r")+1:]
		visible = strings.TrimPrefix(visible, "\x1b[2K")
		if i := strings.Index(visible, "gostrap:"); i > 0 {
			t.Errorf("a log line is glued to something on the screen: %q", line)
		}
	}
	// The bar is cleared when the download ends, and the summary lines follow on their own.
	if !strings.Contains(screen, "MiB in ") || !strings.Contains(screen, "\ngostrap: installed go1.22.3 in ") {
		t.Errorf("no summary of the download and the install:\n%q", screen)
	}
}
