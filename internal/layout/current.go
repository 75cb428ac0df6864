package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/mirror"
)

// <dir>/current is the toolchain in use: a shell with <dir>/current/bin on PATH follows
// 'gostrap use' at once. How it is kept depends on the system.
//
// Unix: a relative symbolic link, made in .gostrap/ and renamed over the old one. rename(2)
// replaces it in one step, so a reader sees the old link or the new one, never none. The
// link itself is the record of which toolchain is current.
//
// Windows: a directory junction (junction.go), because a symbolic link needs Developer Mode
// or an administrator ("A required privilege is not held by the client"), and a junction
// does not. A rename cannot replace a directory, and a junction is one, so the switch cannot
// be a single step; the record of which toolchain is current is therefore a file,
// .gostrap/current, holding the toolchain's directory name, which a rename does replace in
// one step. The junction follows the record. Under the directory lock, a switch:
//
//  1. makes the new junction in .gostrap/ (current-XXXX);
//  2. renames the old <dir>\current into the trash (the link moves; its target stays);
//  3. renames the new junction to <dir>\current;
//  4. writes the record: from here on the switch has happened;
//  5. removes the old junction from the trash (a later run does, when it was busy).
//
// A run that dies before 4 leaves the record naming the old toolchain, with a link to either
// or none; one that dies after 4 leaves the switch made, its old link perhaps in the trash.
// Every later run that takes the directory lock (install, use, uninstall) makes the link
// agree with the record again, so a switch that was never reported is undone and one that was
// is completed; a reinstall of a toolchain that is already there repairs a missing link too.
// Between 2 and 3 (two renames, microseconds) a program started through <dir>\current finds
// nothing; programs already running keep their files.
//
// Where no junction can be made (FAT32 or exFAT drives, most network shares, wine), the
// record alone says which toolchain is current: 'gostrap env', exec and which give that
// toolchain's own directory, and the switch warns that <dir>\current does not exist.

// errNoLinks is a file system that cannot hold <dir>\current's junction.
var errNoLinks = errors.New("this file system cannot hold a junction")

// errNotLink refuses to move away a <dir>/current that gostrap did not make.
var errNotLink = errors.New("it is not a link gostrap made: move it away")

// junctionMaker returns how this layout makes a directory junction, or nil where <dir>/current
// is a symbolic link.
func (l Layout) junctionMaker() func(link, target string) error {
	if l.mkJunction != nil {
		return l.mkJunction
	}
	return platformJunction
}

func (l Layout) warnf(format string, args ...any) {
	if l.Warnf != nil {
		l.Warnf(format, args...)
	}
}

// recordFile holds the name of the current toolchain where <dir>\current is a junction.
func (l Layout) recordFile() string { return l.state("current") }

// record returns the toolchain directory name the record holds, or "".
func (l Layout) record() string {
	var data []byte
	err := retry(func() (err error) {
		data, err = os.ReadFile(l.recordFile())
		return err
	})
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(data))
	if !isToolchainName(name) {
		return ""
	}
	return name
}

// isToolchainName reports whether name can be a toolchain directory of <dir>: one element,
// no separators.
func isToolchainName(name string) bool {
	return name != "" && filepath.IsLocal(name) && !strings.ContainsAny(name, `/\:`)
}

// HasCurrent reports whether a toolchain is current and still there.
func (l Layout) HasCurrent() bool {
	if l.junctionMaker() != nil {
		name := l.CurrentVersion()
		fi, err := os.Stat(filepath.Join(l.Dir, name))
		return name != "" && err == nil && fi.IsDir()
	}
	t, err := os.Readlink(l.Current())
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(l.Dir, t))
	return err == nil
}

// CurrentVersion returns the directory name of the current toolchain, or "".
func (l Layout) CurrentVersion() string {
	if l.junctionMaker() != nil {
		if name := l.record(); name != "" {
			return name
		}
		// No record: a directory from before junctions, whose link (a symbolic link made in
		// Developer Mode) says.
	}
	t, err := os.Readlink(l.Current())
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// CurrentLink returns <dir>/current, and whether it leads to the current toolchain: false
// where no junction can be made, or while a link broken by a crash waits for the next run to
// repair it. When false, the current toolchain's own directory is what to give a shell.
func (l Layout) CurrentLink() (string, bool) {
	name := l.CurrentVersion()
	return l.Current(), name != "" && l.linkLeadsTo(filepath.Join(l.Dir, name))
}

// linkLeadsTo reports whether <dir>/current is a link (symbolic or junction) to dir.
func (l Layout) linkLeadsTo(dir string) bool {
	fi, err := os.Lstat(l.Current())
	if err != nil || fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) == 0 {
		return false
	}
	a, err := os.Stat(l.Current())
	if err != nil {
		return false
	}
	b, err := os.Stat(dir)
	return err == nil && os.SameFile(a, b)
}

// SetCurrent makes v the current toolchain. The caller holds the directory lock.
func (l Layout) SetCurrent(v string) error {
	name := l.Name(v)
	if l.junctionMaker() == nil {
		return l.setSymlink(name)
	}
	old := l.record()
	linkErr := l.relink(name)
	if linkErr != nil && !errors.Is(linkErr, errNoLinks) {
		return linkErr
	}
	if err := WriteFile(l.recordFile(), []byte(name+"\n"), 0o644); err != nil {
		if old != "" && linkErr == nil {
			l.relink(old) // the link follows the record again
		}
		return &failure.DiskError{Op: "write", Path: l.recordFile(), Err: err}
	}
	if linkErr != nil {
		l.warnf("%s is current, but %s cannot be made: %v; 'gostrap env', exec and which give %s itself; "+
			"for a link that follows 'gostrap use', install to an NTFS drive (--dir)", name, l.Current(), linkErr, filepath.Join(l.Dir, name))
	}
	return nil
}

// setSymlink switches the symbolic link: a new link beside it renamed over it.
func (l Layout) setSymlink(name string) error {
	tmp := l.state("current-" + randSuffix())
	if err := os.Symlink(name, tmp); err != nil {
		return &failure.DiskError{Op: "symlink", Path: tmp, Err: err}
	}
	// The link is made in .gostrap/ so a crash leaves no stray file at the top; its target
	// is relative to <Dir>, where it is renamed to.
	if err := Rename(tmp, l.Current()); err != nil {
		os.Remove(tmp)
		return &failure.DiskError{Op: "rename", Path: l.Current(), Err: err}
	}
	return nil
}

// relink makes <dir>\current a junction to the toolchain name (steps 1 to 3 and 5 above). On
// a file system without junctions it removes a link left from before, so that none leads
// elsewhere than the record, and returns an error wrapping errNoLinks.
func (l Layout) relink(name string) error {
	link, target := l.Current(), filepath.Join(l.Dir, name)
	if l.linkLeadsTo(target) {
		return nil
	}
	tmp := l.state("current-" + randSuffix())
	if err := l.junctionMaker()(tmp, target); err != nil {
		if errors.Is(err, errNoLinks) {
			if aside, aerr := l.moveAside(link); aerr == nil && aside != "" {
				remove(aside)
			}
			return err
		}
		return &failure.DiskError{Op: "make junction", Path: link, Err: err}
	}
	aside, err := l.moveAside(link)
	if err != nil {
		remove(tmp)
		return err
	}
	if err := Rename(tmp, link); err != nil {
		if aside != "" {
			Rename(aside, link)
		}
		remove(tmp)
		return &failure.DiskError{Op: "rename", Path: link, Err: err}
	}
	if aside != "" {
		remove(aside) // when busy, it stays in the trash, which every run empties
	}
	return nil
}

// moveAside renames the link at path into the trash and returns where it went ("" when there
// was none). An empty directory goes too (a junction whose making was interrupted); anything
// else is not gostrap's to move.
func (l Layout) moveAside(path string) (string, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", &failure.DiskError{Op: "read", Path: path, Err: err}
	}
	switch {
	case fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0:
	case isPlainDir(fi.Mode()):
		if ents, err := os.ReadDir(path); err != nil || len(ents) > 0 {
			return "", &failure.DiskError{Op: "replace", Path: path, Err: errNotLink}
		}
	default:
		return "", &failure.DiskError{Op: "replace", Path: path, Err: errNotLink}
	}
	return l.trash(path)
}

// clearCurrent leaves no toolchain current. The caller holds the directory lock.
func (l Layout) clearCurrent() error {
	if l.junctionMaker() == nil {
		os.Remove(l.Current())
		return nil
	}
	if err := remove(l.recordFile()); err != nil {
		return &failure.DiskError{Op: "remove", Path: l.recordFile(), Err: err}
	}
	aside, err := l.moveAside(l.Current())
	if err != nil {
		return err
	}
	if aside != "" {
		remove(aside)
	}
	return nil
}

// settleCurrent runs, with the directory lock held, once toolchain v is in place: v becomes
// current when asked to, or when no toolchain (still there) is; otherwise the link of the one
// that is gets repaired.
func (l Layout) settleCurrent(v string, makeCurrent bool) error {
	if l.Platform != mirror.Host() {
		return nil
	}
	l.removeStaleLinks()
	if makeCurrent || !l.HasCurrent() {
		return l.SetCurrent(v)
	}
	l.repairCurrent()
	return nil
}

// repairCurrent makes <dir>\current agree with the record, after a run that died mid-switch
// or a link someone removed. The caller holds the directory lock.
func (l Layout) repairCurrent() {
	if l.junctionMaker() == nil {
		return
	}
	name := l.record()
	if name == "" {
		return
	}
	if fi, err := os.Stat(filepath.Join(l.Dir, name)); err != nil || !fi.IsDir() {
		return // the record names a toolchain that is gone: the caller picks another
	}
	if err := l.relink(name); err != nil && !errors.Is(err, errNoLinks) {
		l.warnf("%s does not lead to %s and could not be repaired: %v", l.Current(), name, err)
	}
}

// removeStaleLinks removes the links a switch that died left in .gostrap/. The caller holds
// the directory lock: nobody else is switching.
func (l Layout) removeStaleLinks() {
	stale, _ := filepath.Glob(l.state("current-*"))
	for _, s := range stale {
		remove(s) // a link: os.Remove takes the link, never its target
	}
}

// EnsureCurrent is the end of an install that found v already there: v becomes current when
// asked to or when nothing is, and a missing or broken <dir>/current is repaired.
func (l Layout) EnsureCurrent(v string, makeCurrent bool) error {
	defer l.emptyTrash()
	unlock, err := l.LockDir()
	if err != nil {
		return err
	}
	defer unlock()
	return l.settleCurrent(v, makeCurrent)
}

// emptyTrash removes what the trash holds: toolchains uninstalled or replaced, old links. It
// runs after the directory lock is released (the trash's entries are never used again, and
// removing a toolchain takes a while). What cannot be removed now, a file Windows keeps
// because a program has it open, stays for the next run, and is said.
func (l Layout) emptyTrash() {
	dir := l.state("trash")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if err := RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			l.warnf("could not empty the trash: %v; a program may be using it (a running go, gopls, an editor, "+
				"a virus scan): the next gostrap run tries again", err)
		}
	}
}
