package failure

import (
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestClassifyErrno builds each code of this system the way Go's packages return it (bare, in
// an *os.SyscallError named for the call, in the *net.OpError of a dial or read, in the
// *url.Error of an HTTP request, in a file's *fs.PathError) and classifies it. Cross-compiled
// for windows/amd64 and run under wine (internal/dist/winetest), it checks the Windows codes
// with the Windows build of this package.
func TestClassifyErrno(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for _, tc := range osErrnos {
		call := "connectex"
		if runtime.GOOS != "windows" {
			call = "connect"
		}
		shapes := map[string]error{
			"bare":    tc.errno,
			"syscall": os.NewSyscallError(call, tc.errno),
			"dial":    &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError(call, tc.errno)},
			"read":    &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: os.NewSyscallError("wsarecv", tc.errno)},
			"http": &url.Error{Op: "Get", URL: "https://go.dev/dl/",
				Err: &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError(call, tc.errno)}},
		}
		if tc.class == Disk {
			shapes = map[string]error{
				"bare":  tc.errno,
				"write": &fs.PathError{Op: "write", Path: `C:\gostrap\go1.22.3\bin\go.exe`, Err: tc.errno},
				"rename": &os.LinkError{Op: "rename", Old: `C:\gostrap\.gostrap\staging\go1.22.3-1`,
					New: `C:\gostrap\go1.22.3`, Err: tc.errno},
				"disk": &DiskError{Op: "write", Path: `C:\gostrap`, Err: &fs.PathError{Op: "write", Path: `C:\gostrap`, Err: tc.errno}},
			}
		}
		for shape, err := range shapes {
			if got := Classify(err); got != tc.class {
				t.Errorf("%s (%d), %s: class %q, want %q (%v)", tc.name, uintptr(tc.errno), shape, got, tc.class, err)
			}
		}
	}
}

// TestClassifyRefusedForReal dials a loopback port nobody listens on: the error the system
// really gives is tcp-refused (under wine, wine's own mapping to WSAECONNREFUSED).
func TestClassifyRefusedForReal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		t.Skip("something listens on the closed port")
	}
	if got := Classify(err); got != TCPRefused {
		t.Errorf("dial %s: %v: class %q, want tcp-refused", addr, err, got)
	}
	if got := Classify(&url.Error{Op: "Get", URL: "http://" + addr + "/", Err: err}); got != TCPRefused {
		t.Errorf("as an HTTP request's error: class %q", got)
	}
}

func TestDiskHints(t *testing.T) {
	for _, tc := range osDiskErrors {
		err := &DiskError{Op: "rename", Path: "go1.22.3", Err: &os.LinkError{Op: "rename", Old: "a", New: "go1.22.3", Err: tc.errno}}
		if h := Explain(err).Hint; !strings.Contains(h, tc.hint) {
			t.Errorf("%s: hint %q, want %q", tc.name, h, tc.hint)
		}
	}
}

// TestHintsSpeakTheSystem: no hint sends a Windows user to a Unix command or file, and each
// system gets its own commands.
func TestHintsSpeakTheSystem(t *testing.T) {
	unixOnly := []string{"df -h", "/etc/", "resolv.conf", "sudo", "timedatectl", "update-ca-", "~/", "$HOME"}
	classes := []Class{DNS, DNSTimeout, TCPRefused, TCPTimeout, TLSUnknownAuthority, TLSHostname, TLSExpired, TLSNotYetValid,
		TLSProtocol, TLSPlaintext, ProxyAuth, ProxyConnect, HTTPStatus, NotFound, Stalled, ChecksumMismatch,
		SumDBSecurity, ArchiveUnsafe, Disk, Canceled, Untrusted, IndexRollback, Other}
	for _, c := range classes {
		h := hintFor(c, "windows")
		for _, u := range unixOnly {
			if strings.Contains(h, u) {
				t.Errorf("windows hint for %s mentions %q: %s", c, u, h)
			}
		}
	}
	for goos, want := range map[string][]string{
		"windows": {"ipconfig /all", "certutil -user -addstore Root", "w32tm /resync", "Get-PSDrive"},
		"linux":   {"/etc/resolv.conf", "update-ca-certificates", "timedatectl", "df -h"},
		"darwin":  {"/etc/resolv.conf", "security add-trusted-cert", "sntp", "df -h"},
	} {
		all := hintFor(DNS, goos) + hintFor(TLSUnknownAuthority, goos) + hintFor(TLSNotYetValid, goos) + hintFor(Disk, goos)
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s hints lack %q:\n%s", goos, w, all)
			}
		}
	}
	if runtime.GOOS == "windows" && strings.Contains(HintFor(Disk)+(&DiskError{Err: errors.New("x")}).Hint(), "df -h") {
		t.Error("the Windows build says df -h")
	}
	if certFileNote("linux") != "" || !strings.Contains(certFileNote("windows"), "ignored on Windows") {
		t.Errorf("SSL_CERT_FILE notes: linux %q, windows %q", certFileNote("linux"), certFileNote("windows"))
	}
}
