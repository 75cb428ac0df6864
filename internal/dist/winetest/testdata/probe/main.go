//go:build windows

// Command probe tries, on Windows or under wine, the file-system and process operations an
// installer leans on, and prints one line per operation: "NAME: ok DETAIL" or "NAME: FAIL DETAIL".
// winetest's test runs it under wine and records what wine can and cannot do.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"golang.org/x/sys/windows"
)

func report(name string, err error, detail string) {
	if err != nil {
		fmt.Printf("%s: FAIL %v %s\n", name, err, detail)
		return
	}
	fmt.Printf("%s: ok %s\n", name, detail)
}

// describe says what a link path is after it was made.
func describe(link string) string {
	var parts []string
	if fi, err := os.Lstat(link); err != nil {
		parts = append(parts, "lstat: "+err.Error())
	} else {
		parts = append(parts, "lstat mode "+fi.Mode().String())
	}
	if t, err := os.Readlink(link); err != nil {
		parts = append(parts, "readlink: "+err.Error())
	} else {
		parts = append(parts, "readlink "+t)
	}
	if _, err := os.Stat(filepath.Join(link, "marker")); err != nil {
		parts = append(parts, "marker through link: "+err.Error())
	} else {
		parts = append(parts, "marker through link: found")
	}
	return strings.Join(parts, "; ")
}

// works reports whether link leads to target's marker.
func works(link string) error {
	if _, err := os.Stat(filepath.Join(link, "marker")); err != nil {
		return errors.New("link made, but target not reachable through it")
	}
	return nil
}

func mkJunction(link, target string) error {
	if err := os.Mkdir(link, 0o777); err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(link)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return fmt.Errorf("CreateFile: %w", err)
	}
	defer windows.CloseHandle(h)
	sub := utf16.Encode([]rune(`\??\` + target))
	print := utf16.Encode([]rune(target))
	// REPARSE_DATA_BUFFER, MountPointReparseBuffer.
	pathBuf := make([]uint16, 0, len(sub)+len(print)+2)
	pathBuf = append(append(append(append(pathBuf, sub...), 0), print...), 0)
	dataLen := 8 + 2*len(pathBuf)
	buf := make([]byte, 8+dataLen)
	binary.LittleEndian.PutUint32(buf[0:], windows.IO_REPARSE_TAG_MOUNT_POINT)
	binary.LittleEndian.PutUint16(buf[4:], uint16(dataLen))
	binary.LittleEndian.PutUint16(buf[8:], 0)                       // SubstituteNameOffset
	binary.LittleEndian.PutUint16(buf[10:], uint16(2*len(sub)))     // SubstituteNameLength
	binary.LittleEndian.PutUint16(buf[12:], uint16(2*(len(sub)+1))) // PrintNameOffset
	binary.LittleEndian.PutUint16(buf[14:], uint16(2*len(print)))   // PrintNameLength
	for i, c := range pathBuf {
		binary.LittleEndian.PutUint16(buf[16+2*i:], c)
	}
	var n uint32
	if err := windows.DeviceIoControl(h, windows.FSCTL_SET_REPARSE_POINT, &buf[0], uint32(len(buf)), nil, 0, &n, nil); err != nil {
		return fmt.Errorf("FSCTL_SET_REPARSE_POINT: %w", err)
	}
	return nil
}

func main() {
	base, err := os.MkdirTemp("", "probe-*")
	if err != nil {
		report("tempdir", err, "")
		os.Exit(1)
	}
	defer os.RemoveAll(base)
	report("tempdir", nil, base)
	target := filepath.Join(base, "go1.22.3")
	os.MkdirAll(target, 0o777)
	os.WriteFile(filepath.Join(target, "marker"), []byte("x"), 0o666)

	// Symbolic links: what gostrap's <dir>/current is.
	link := filepath.Join(base, "current")
	err = os.Symlink("go1.22.3", link)
	if err == nil {
		err = works(link)
	}
	report("symlink-dir-relative", err, describe(link))
	link2 := filepath.Join(base, "current-abs")
	err = os.Symlink(target, link2)
	if err == nil {
		err = works(link2)
	}
	report("symlink-dir-absolute", err, describe(link2))
	flink := filepath.Join(base, "file-link")
	err = os.Symlink(filepath.Join(target, "marker"), flink)
	if err == nil {
		_, err = os.ReadFile(flink)
	}
	report("symlink-file", err, "")

	// Junctions, two ways.
	j := filepath.Join(base, "junction")
	err = mkJunction(j, target)
	if err == nil {
		err = works(j)
	}
	report("junction-fsctl", err, describe(j))
	j2 := filepath.Join(base, "junction-mklink")
	out, err := exec.Command("cmd", "/c", "mklink", "/J", j2, target).CombinedOutput()
	if err == nil {
		err = works(j2)
	}
	report("junction-mklink", err, strings.TrimSpace(string(out))+"; "+describe(j2))

	// Renames.
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	os.WriteFile(a, []byte("new"), 0o666)
	os.WriteFile(b, []byte("old"), 0o666)
	err = os.Rename(a, b)
	if data, _ := os.ReadFile(b); err == nil && string(data) != "new" {
		err = errors.New("replaced file has the old content")
	}
	report("rename-file-over-file", err, "")
	d1, d2 := filepath.Join(base, "d1"), filepath.Join(base, "d2")
	os.Mkdir(d1, 0o777)
	os.Mkdir(d2, 0o777)
	report("rename-dir-over-empty-dir", os.Rename(d1, d2), "(fails on Windows too)")
	d3 := filepath.Join(base, "d3")
	os.Mkdir(d1, 0o777)
	report("rename-dir", os.Rename(d1, d3), "")
	f, err := os.Open(filepath.Join(target, "marker"))
	if err == nil {
		err = os.Rename(target, filepath.Join(base, "moved"))
		f.Close()
		if err == nil {
			os.Rename(filepath.Join(base, "moved"), target)
		}
	}
	report("rename-dir-with-open-file", err, "(fails on Windows: sharing violation)")

	// Removing what is open, and read-only files.
	g := filepath.Join(base, "open")
	os.WriteFile(g, []byte("x"), 0o666)
	gf, _ := os.Open(g)
	err = os.Remove(g)
	gf.Close()
	report("remove-open-file", err, "(as on Windows: os.Open does not share delete access)")
	w := filepath.Join(base, "w", "sub", "f")
	os.MkdirAll(filepath.Dir(w), 0o777)
	os.WriteFile(w, []byte("x"), 0o666)
	report("removeall-writable", os.RemoveAll(filepath.Join(base, "w")), "")
	r1 := filepath.Join(base, "readonly-file")
	os.WriteFile(r1, []byte("x"), 0o444)
	report("remove-read-only-file", os.Remove(r1), "")
	ro := filepath.Join(base, "ro", "f")
	os.MkdirAll(filepath.Dir(ro), 0o777)
	os.WriteFile(ro, []byte("x"), 0o444)
	report("removeall-read-only", os.RemoveAll(filepath.Dir(ro)), "")

	// Locks: two handles, exclusive, fail immediately.
	lp := filepath.Join(base, "lock")
	l1, err1 := os.OpenFile(lp, os.O_CREATE|os.O_RDWR, 0o666)
	l2, err2 := os.OpenFile(lp, os.O_RDWR, 0o666)
	if err1 != nil || err2 != nil {
		report("lockfileex", errors.Join(err1, err2), "")
	} else {
		ol1, ol2 := new(windows.Overlapped), new(windows.Overlapped)
		err = windows.LockFileEx(windows.Handle(l1.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol1)
		if err == nil {
			e2 := windows.LockFileEx(windows.Handle(l2.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol2)
			if e2 == nil {
				err = errors.New("a second exclusive lock was granted")
			} else if !errors.Is(e2, windows.ERROR_LOCK_VIOLATION) {
				err = fmt.Errorf("second lock: %v (want ERROR_LOCK_VIOLATION)", e2)
			}
		}
		report("lockfileex", err, "")
		l1.Close()
		l2.Close()
	}

	// Long paths.
	long := base
	for len(long) < 300 {
		long = filepath.Join(long, strings.Repeat("x", 40))
	}
	err = os.MkdirAll(long, 0o777)
	if err == nil {
		err = os.WriteFile(filepath.Join(long, "f"), []byte("x"), 0o666)
	}
	report("long-path-300", err, "")

	// Loopback networking.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
		var resp *http.Response
		resp, err = http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "pong" {
				err = fmt.Errorf("body %q", body)
			}
		}
	}
	report("http-loopback", err, "")

	// Where things go.
	home, err := os.UserHomeDir()
	report("user-home", err, home)
	cache, err := os.UserCacheDir()
	report("user-cache", err, cache)
	exe, err := os.Executable()
	report("executable", err, exe)
	v := windows.RtlGetVersion()
	report("windows-version", nil, fmt.Sprintf("%d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber))
}
