package gostrap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/dist/disttest"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/offline"
)

// goVersionThrough runs the go command's own toolchain switch (GOTOOLCHAIN) with GOPROXY at
// proxy and the test's checksum database, and checks the toolchain it ran. It returns the
// run's GOPATH.
func goVersionThrough(t *testing.T, proxy, version string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	tmp := t.TempDir()
	cmd := exec.Command(gobin, "version")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOPROXY="+proxy, "GOSUMDB="+fixture.VKey, "GOTOOLCHAIN="+version,
		"GOPATH="+filepath.Join(tmp, "gopath"), "GOMODCACHE="+filepath.Join(tmp, "gopath", "mod"), "GOFLAGS=-modcacherw",
		"GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GONOPROXY=", "GOENV=off")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go version "+version+" "+mirrortest.Host.String()) {
		t.Fatalf("go version through %s: %v\n%s", proxy, err, out)
	}
	return filepath.Join(tmp, "gopath")
}

// Where only a module proxy is reachable, mirror sync makes a complete module proxy tree
// (list, info, mod, zip and the checksum database's files), exits 0 and says why it holds no
// release archives; gostrap and the go command install from it as GOPROXY.
func TestMirrorSyncProxyOnly(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	closed := mirrortest.ClosedURL()
	o.Official, o.Mirrors = []string{closed}, []string{closed + "golang/"}
	out := filepath.Join(t.TempDir(), "tree")
	rep, err := mustInstaller(t, o).SyncTree(context.Background(), TreeOptions{Out: out, Specs: []string{"1.22.3"}, Zips: true, Archives: true})
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Missing)
	}
	if len(rep.Entries) != 1 || rep.Entries[0].Zip == "" || rep.Entries[0].Archive != "" {
		t.Fatalf("entries %+v", rep.Entries)
	}
	if len(rep.Missing) != 1 || !strings.Contains(rep.Missing[0], "no release archive: official and mirror sources configured but unreachable") ||
		!strings.Contains(rep.Missing[0], "tcp-refused") {
		t.Fatalf("missing %q", rep.Missing)
	}
	t.Log(rep.Missing[0])
	module := mirrortest.Host.ToolchainVersion("go1.22.3")
	for _, p := range []string{offline.ListPath, offline.InfoPath(module), offline.ModPath(module), offline.ZipPath(module),
		offline.SumDBPath("sum.test", "/supported"), offline.SumDBPath("sum.test", "/lookup/golang.org/toolchain@"+module)} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("the tree lacks %s", p)
		}
	}
	s.Close() // nothing but the tree from here on

	served := disttest.Serve(t, out)
	po := proxyOnly(t, s, served)
	irep, err := install(t, mustInstaller(t, po), "1.22.3")
	if err != nil || irep.Verified.Method != "sumdb" {
		t.Fatalf("gostrap through the served tree: %v %+v", err, irep.Verified)
	}
	goVersionThrough(t, served, "go1.22.3")
	goVersionThrough(t, "file://"+filepath.ToSlash(out), "go1.22.3")
}

// With the checksum database unreachable, archives an official index vouches for are still
// synced (index.json lists them) and the missing proofs are listed; the tree serves installs
// as an official site.
func TestMirrorSyncWithoutTheChecksumDatabase(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	o := testOptions(t, s)
	o.GOPROXY = "off"
	out := filepath.Join(t.TempDir(), "tree")
	rep, err := mustInstaller(t, o).SyncTree(context.Background(), TreeOptions{Out: out, Specs: []string{"1.22.3"}, Zips: true, Archives: true})
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Missing)
	}
	if len(rep.Entries) != 1 || rep.Entries[0].Archive == "" || !rep.Entries[0].OfficialSHA256 || rep.Entries[0].H1 != "" {
		t.Fatalf("entries %+v", rep.Entries)
	}
	joined := strings.Join(rep.Missing, "\n")
	if !strings.Contains(joined, "no checksum-database proof") || !strings.Contains(joined, "no module zip") {
		t.Fatalf("missing %q", rep.Missing)
	}
	t.Log(joined)
	index, _ := os.ReadFile(filepath.Join(out, "index.json"))
	if !strings.Contains(string(index), mirrortest.Host.ArchiveName("go1.22.3")) {
		t.Fatalf("index.json: %s", index)
	}
	s.Close()
	io := testOptions(t, s)
	io.Official, io.GOPROXY = []string{disttest.Serve(t, out) + "/"}, "off"
	irep, err := install(t, mustInstaller(t, io), "1.22.3")
	if err != nil || irep.Verified.Method != "sha256" {
		t.Fatalf("install from the served tree: %v %+v", err, irep.Verified)
	}
	// Offline, from the tree as a bundle, there is nothing to prove it with: said so, exit 4.
	bo := offlineOptions(t, s, out)
	bo.Offline = true
	brep, err := install(t, mustInstaller(t, bo), "1.22.3")
	if err == nil || !strings.Contains(brep.Error.Message, "checksum database was unreachable") {
		t.Fatalf("offline from a tree without proofs: %v", err)
	}
}
