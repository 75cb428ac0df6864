package layout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
)

// fakeInstall puts an intact toolchain v in l, as Commit leaves one.
func fakeInstall(t *testing.T, l Layout, v string) {
	t.Helper()
	root := l.GOROOT(v)
	meta, _ := json.Marshal(Meta{Version: v, Platform: l.Platform.String()})
	for name, data := range map[string][]byte{
		"VERSION":                        []byte(v + "\ntime 2024-05-01T00:00:00Z\n"),
		MetaFile:                         meta,
		"bin/go" + ExeSuffix(l.Platform): []byte("go"),
		"src/fmt/print.go":               []byte("package fmt\n"),
		"pkg/tool/x/compile" + ExeSuffix(l.Platform): []byte("compile"),
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// symlinkJunction stands in for a junction off Windows: an absolute symbolic link does what
// current.go asks of a junction (Stat follows it, Lstat does not, Rename and Remove take the
// link itself).
func symlinkJunction(link, target string) error { return os.Symlink(target, link) }

func noJunctions(link, target string) error {
	return fmt.Errorf("%w (FSCTL_SET_REPARSE_POINT: Request not supported.)", errNoLinks)
}

// warnings collects a layout's warnings.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) f(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, fmt.Sprintf(format, args...))
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// junctionLayout is a layout that keeps <dir>/current as Windows does: with symbolic links
// standing in for junctions off Windows, and the system's junctions on Windows (none under
// wine: links reports whether they can be made).
func junctionLayout(t *testing.T) (l Layout, w *warnings, links bool) {
	w = &warnings{}
	l = Layout{Dir: filepath.Join(t.TempDir(), "gostrap"), Platform: mirror.Host(), Warnf: w.f}
	if runtime.GOOS != "windows" {
		l.mkJunction = symlinkJunction
		return l, w, true
	}
	probe := filepath.Join(t.TempDir(), "probe")
	err := platformJunction(probe, t.TempDir())
	if err != nil && !errors.Is(err, errNoLinks) {
		t.Fatalf("making a junction: %v", err)
	}
	if err != nil {
		t.Logf("junctions cannot be made here (wine 8 does not support them): testing the record alone: %v", err)
	}
	return l, w, err == nil
}

// checkCurrent checks that v is current: the record, and the link when links can be made; and
// that nothing is left in the trash or .gostrap/.
func checkCurrent(t *testing.T, l Layout, v string, links bool) {
	t.Helper()
	if got := l.CurrentVersion(); got != v {
		t.Errorf("current version %q, want %q", got, v)
	}
	if !l.HasCurrent() {
		t.Error("HasCurrent is false")
	}
	if data, err := os.ReadFile(l.recordFile()); err != nil || string(data) != v+"\n" {
		t.Errorf("record %q, %v; want %q", data, err, v+"\n")
	}
	link, ok := l.CurrentLink()
	root, got, err := l.CurrentGOROOT()
	if err != nil || got != v {
		t.Errorf("CurrentGOROOT() = %q, %q, %v", root, got, err)
	}
	if links {
		if !ok {
			t.Errorf("%s does not lead to %s", link, v)
		}
		if root != l.Current() {
			t.Errorf("GOROOT for the current toolchain %q, want the link %q", root, l.Current())
		}
		data, err := os.ReadFile(filepath.Join(l.Current(), "VERSION"))
		if err != nil || !strings.HasPrefix(string(data), v+"\n") {
			t.Errorf("VERSION through the link: %q, %v", data, err)
		}
		if runtime.GOOS == "windows" {
			fi, err := os.Lstat(l.Current())
			if err != nil || fi.Mode()&fs.ModeIrregular == 0 {
				t.Errorf("%s: %v, %v; want a junction (irregular)", l.Current(), fi.Mode(), err)
			}
		}
	} else {
		if ok {
			t.Errorf("CurrentLink says %s leads to %s where no link can be made", link, v)
		}
		if _, err := os.Lstat(l.Current()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists where no link can be made: %v", l.Current(), err)
		}
		if root != l.GOROOT(v) {
			t.Errorf("GOROOT for the current toolchain %q, want its own %q", root, l.GOROOT(v))
		}
	}
	if ents, _ := os.ReadDir(l.state("trash")); len(ents) > 0 {
		t.Errorf("trash holds %s", ents[0].Name())
	}
	if stale, _ := filepath.Glob(l.state("current-*")); len(stale) > 0 {
		t.Errorf("left in .gostrap: %v", stale)
	}
}

func TestJunctionSwitch(t *testing.T) {
	l, w, links := junctionLayout(t)
	fakeInstall(t, l, "go1.21.0")
	fakeInstall(t, l, "go1.22.3")
	for _, v := range []string{"go1.21.0", "go1.22.3", "go1.22.3", "go1.21.0"} {
		got, err := l.Use(strings.TrimPrefix(v, "go"))
		if err != nil || got != v {
			t.Fatalf("use %s: %q, %v", v, got, err)
		}
		checkCurrent(t, l, v, links)
	}
	if links && w.String() != "" {
		t.Errorf("warnings:\n%s", w)
	}
	if !links && !strings.Contains(w.String(), "cannot be made") {
		t.Errorf("no warning that %s cannot exist; warnings:\n%s", l.Current(), w)
	}
}

// TestJunctionRepair: every run that takes the directory lock makes the link agree with the
// record, whatever a crash or a person left.
func TestJunctionRepair(t *testing.T) {
	l, _, links := junctionLayout(t)
	if !links {
		t.Skip("no junctions here: nothing to repair")
	}
	fakeInstall(t, l, "go1.21.0")
	fakeInstall(t, l, "go1.22.3")
	if _, err := l.Use("1.22.3"); err != nil {
		t.Fatal(err)
	}
	// A reinstall of another toolchain (already there, not --use) repairs each of these.
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T)
	}{
		{"link removed", func(t *testing.T) {
			if err := os.Remove(l.Current()); err != nil {
				t.Fatal(err)
			}
		}},
		{"crash before the record", func(t *testing.T) {
			// Steps 1-3 of a switch to go1.21.0 happened; the record still says go1.22.3.
			if err := l.relink("go1.21.0"); err != nil {
				t.Fatal(err)
			}
		}},
		{"crash mid-switch", func(t *testing.T) {
			// The old link in the trash, the new one still in .gostrap/.
			if _, err := l.moveAside(l.Current()); err != nil {
				t.Fatal(err)
			}
			l.junctionMaker()(l.state("current-dead"), l.GOROOT("go1.21.0"))
		}},
		{"empty directory", func(t *testing.T) {
			os.Remove(l.Current())
			os.Mkdir(l.Current(), 0o755)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_(t)
			if err := l.EnsureCurrent("go1.21.0", false); err != nil {
				t.Fatal(err)
			}
			checkCurrent(t, l, "go1.22.3", links)
		})
	}

	// The whole directory moved: the junction's absolute target is gone; the record's name
	// is not, and the next run makes the link again.
	moved := l
	moved.Dir = l.Dir + "-moved"
	if err := os.Rename(l.Dir, moved.Dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := moved.CurrentLink(); ok {
		t.Fatal("the moved link still leads to the toolchain: test proves nothing")
	}
	if root, _, _ := moved.CurrentGOROOT(); root != moved.GOROOT("go1.22.3") {
		t.Errorf("GOROOT with a broken link: %q, want %q", root, moved.GOROOT("go1.22.3"))
	}
	if err := moved.EnsureCurrent("go1.22.3", false); err != nil {
		t.Fatal(err)
	}
	checkCurrent(t, moved, "go1.22.3", links)
}

// TestJunctionUnsupported: on a file system without junctions the switch works through the
// record, says that <dir>\current cannot exist, and removes a link left from before.
func TestJunctionUnsupported(t *testing.T) {
	w := &warnings{}
	l := Layout{Dir: filepath.Join(t.TempDir(), "gostrap"), Platform: mirror.Host(), Warnf: w.f, mkJunction: noJunctions}
	fakeInstall(t, l, "go1.21.0")
	fakeInstall(t, l, "go1.22.3")
	if runtime.GOOS != "windows" {
		// A link made before (a symbolic link, in Developer Mode): with no record yet, it says
		// what is current.
		if err := os.Symlink("go1.21.0", l.Current()); err != nil {
			t.Fatal(err)
		}
		if got := l.CurrentVersion(); got != "go1.21.0" {
			t.Errorf("current version from the old link: %q", got)
		}
	}
	if _, err := l.Use("1.22.3"); err != nil {
		t.Fatal(err)
	}
	checkCurrent(t, l, "go1.22.3", false)
	if !strings.Contains(w.String(), "cannot be made") || !strings.Contains(w.String(), "Request not supported") {
		t.Errorf("warnings:\n%s", w)
	}
}

// TestCurrentNotALink: a folder of the user's at <dir>/current is never moved away. Where a
// junction could replace it, the switch fails and says so; where none can (wine), the record
// alone switches and the folder stays, not taken for a link.
func TestCurrentNotALink(t *testing.T) {
	l, _, links := junctionLayout(t)
	fakeInstall(t, l, "go1.22.3")
	os.MkdirAll(l.Current(), 0o755)
	os.WriteFile(filepath.Join(l.Current(), "notes.txt"), []byte("mine"), 0o644)
	_, err := l.Use("1.22.3")
	if _, serr := os.Stat(filepath.Join(l.Current(), "notes.txt")); serr != nil {
		t.Errorf("the user's file: %v", serr)
	}
	if !links {
		if err != nil || l.CurrentVersion() != "go1.22.3" {
			t.Errorf("use without junctions: %v; current %q", err, l.CurrentVersion())
		}
		if _, ok := l.CurrentLink(); ok {
			t.Error("the user's folder taken for the link")
		}
		return
	}
	var de *failure.DiskError
	if !errors.As(err, &de) || !errors.Is(err, errNotLink) {
		t.Fatalf("use over a folder of the user's: %v", err)
	}
	if l.record() != "" {
		t.Errorf("record written: %q", l.record())
	}
}

func TestUninstallCurrentJunction(t *testing.T) {
	l, _, links := junctionLayout(t)
	fakeInstall(t, l, "go1.21.0")
	fakeInstall(t, l, "go1.22.3")
	if _, err := l.Use("1.22.3"); err != nil {
		t.Fatal(err)
	}
	rm, err := l.Uninstall("1.22.3", true)
	if err != nil || rm.Current != "go1.21.0" {
		t.Fatalf("uninstall: %+v, %v", rm, err)
	}
	checkCurrent(t, l, "go1.21.0", links)
	if _, err := os.Stat(l.GOROOT("go1.22.3")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("go1.22.3 still there: %v", err)
	}
	if rm, err := l.Uninstall("1.21.0", true); err != nil || rm.Current != "" {
		t.Fatalf("uninstall the last: %+v, %v", rm, err)
	}
	if l.HasCurrent() || l.CurrentVersion() != "" {
		t.Errorf("current after the last uninstall: %q", l.CurrentVersion())
	}
	for _, p := range []string{l.Current(), l.recordFile()} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

// TestReinstallRepairsCurrent: an install that finds its toolchain intact (Commit losing a
// race, or EnsureCurrent) makes it current when nothing is, in either scheme.
func TestReinstallRepairsCurrent(t *testing.T) {
	for _, scheme := range []string{"system", "junction"} {
		t.Run(scheme, func(t *testing.T) {
			l := Layout{Dir: filepath.Join(t.TempDir(), "gostrap"), Platform: mirror.Host()}
			if scheme == "junction" {
				l, _, _ = junctionLayout(t)
			}
			fakeInstall(t, l, "go1.22.3")
			if l.HasCurrent() {
				t.Fatal("current before anything made it")
			}
			staging, err := l.NewStaging("go1.22.3")
			if err != nil {
				t.Fatal(err)
			}
			installed, err := l.Commit(staging, "go1.22.3", false)
			if err != nil || installed {
				t.Fatalf("commit over an intact toolchain: %v, %v", installed, err)
			}
			if !l.HasCurrent() || l.CurrentVersion() != "go1.22.3" {
				t.Errorf("current after the reinstall: %q", l.CurrentVersion())
			}
			if _, err := os.Stat(staging); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("staging left: %v", err)
			}
			// Removed by hand: EnsureCurrent (install of a version that is there) repairs it.
			os.Remove(l.Current())
			os.Remove(l.recordFile())
			if err := l.EnsureCurrent("go1.22.3", false); err != nil {
				t.Fatal(err)
			}
			if !l.HasCurrent() {
				t.Error("no current after EnsureCurrent")
			}
		})
	}
}

// TestTrashReported: what cannot be removed from the trash is said, and goes on a later run.
func TestTrashReported(t *testing.T) {
	defer func(f, g func(string) error) { osRemoveAll, osRemove = f, g }(osRemoveAll, osRemove)
	w := &warnings{}
	l := Layout{Dir: filepath.Join(t.TempDir(), "gostrap"), Platform: mirror.Host(), Warnf: w.f}
	fakeInstall(t, l, "go1.21.0")
	fakeInstall(t, l, "go1.22.3")
	if _, err := l.Use("1.22.3"); err != nil {
		t.Fatal(err)
	}
	osRemoveAll = wineRemoveAll
	busy := true
	osRemove = func(p string) error {
		if busy && filepath.Base(p) == "go"+ExeSuffix(l.Platform) {
			return &fs.PathError{Op: "remove", Path: p, Err: errBusy}
		}
		return os.Remove(p)
	}
	rm, err := l.Uninstall("1.21.0", false)
	if err != nil || rm.Version != "go1.21.0" {
		t.Fatalf("uninstall: %+v, %v", rm, err)
	}
	if list, _ := l.List(); len(list) != 1 {
		t.Errorf("installed after the uninstall: %+v", list)
	}
	if !strings.Contains(w.String(), "could not empty the trash") || !strings.Contains(w.String(), "busy") {
		t.Errorf("warnings:\n%s", w)
	}
	ents, _ := os.ReadDir(l.state("trash"))
	if len(ents) != 1 {
		t.Fatalf("trash holds %d entries, want the busy tree", len(ents))
	}
	// The program ends; the next run empties the trash.
	busy = false
	if _, err := l.Use("1.22.3"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(l.state("trash")); len(ents) != 0 {
		t.Errorf("trash still holds %s", ents[0].Name())
	}
}
