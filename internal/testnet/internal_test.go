package testnet

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSweep: what a dead test process left (namespaces, a process in one,
// /etc/netns directories, an unlocked lock file) goes; the namespaces of a
// live topology, and namespaces not named as New names them, stay.
func TestSweep(t *testing.T) {
	t.Parallel()
	live := New(t)

	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	staleNS := []string{nsPrefix + id + "-cli", nsPrefix + id + "-mid"}
	other := nsPrefix + id + "-notours"
	etcOnly := etcDir(nsPrefix + id + "-origin")
	t.Cleanup(func() { // in case the sweep does not do it
		for _, name := range append(staleNS, other) {
			exec.Command("ip", "netns", "del", name).Run()
			os.RemoveAll(etcDir(name))
		}
		os.RemoveAll(etcOnly)
		os.Remove(filepath.Join(lockDir, id+".lock"))
	})
	for _, name := range append(staleNS, other) {
		if err := run("ip", "netns", "add", name); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(etcDir(name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(etcOnly, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lockDir, id+".lock"), []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("ip", "netns", "exec", staleNS[1], "sleep", "60")
	sleep.SysProcAttr = sysProcAttr()
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleep.Wait() }()

	for _, err := range sweep() {
		t.Errorf("sweep: %v", err)
	}

	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("the process in the stale namespace %s still runs", staleNS[1])
	}
	for _, name := range staleNS {
		for _, p := range []string{"/run/netns/" + name, etcDir(name)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s of a stale topology still exists (%v)", p, err)
			}
		}
	}
	if _, err := os.Stat(etcOnly); !os.IsNotExist(err) {
		t.Errorf("%s of a stale topology still exists (%v)", etcOnly, err)
	}
	if _, err := os.Stat(filepath.Join(lockDir, id+".lock")); !os.IsNotExist(err) {
		t.Errorf("the stale lock file still exists (%v)", err)
	}
	if _, err := os.Stat("/run/netns/" + other); err != nil {
		t.Errorf("namespace %s, not named as New names them, was swept: %v", other, err)
	}
	for _, r := range roles {
		if _, err := os.Stat("/run/netns/" + live.Name(r)); err != nil {
			t.Errorf("the live topology's %s was swept: %v", live.Name(r), err)
		}
	}
	if _, err := os.Stat(live.lockName); err != nil {
		t.Errorf("the live topology's lock was swept: %v", err)
	}
}

// TestNeedMessage: a missing program's message names the package to
// install.
func TestNeedMessage(t *testing.T) {
	needMu.Lock()
	knownPrograms["gst-absent"] = program{paths: []string{"/nonexistent/gst-absent"}, pkg: "gst-absent-pkg"}
	needMu.Unlock()
	t.Cleanup(func() {
		needMu.Lock()
		delete(knownPrograms, "gst-absent")
		delete(needCache, "gst-absent")
		needMu.Unlock()
	})
	if msg, want := need("gst-absent"), "testnet: needs gst-absent: apt-get install gst-absent-pkg"; msg != want {
		t.Errorf("need: %q, want %q", msg, want)
	}
}
