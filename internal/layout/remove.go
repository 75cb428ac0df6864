package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Windows refuses to rename or remove a file that another program holds open without sharing
// delete access: a running go.exe or gopls, an editor, and above all a virus scanner reading a
// file that was just written. Those refusals (ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION)
// usually last milliseconds, so the file operations gostrap's layout depends on are retried
// for a short while, as cmd/go's internal/robustio does for the module cache. Elsewhere
// nothing is retried: there an error means what it says.

// retryBudget is how long one operation is retried: cmd/go waits as long, and a scan of a
// freshly written go.exe ends well within it. A program that keeps the file open (a running
// gopls) outlasts any budget; the error then says so (failure.DiskError's hint).
const retryBudget = 2 * time.Second

// retry runs op until it succeeds, fails in a way waiting cannot change, or the budget is
// spent; it returns op's last error.
func retry(op func() error) error { return retryFor(op, isEphemeral, retryBudget, time.Sleep) }

// retryFor is retry with its parts given: which errors are worth waiting out, the budget, and
// the sleep (tests count the sleeps instead). The pause starts at a millisecond and grows by
// a random fraction of itself each time, so that two processes waiting for the same file do
// not retry in step.
func retryFor(op func() error, ephemeral func(error) bool, budget time.Duration, sleep func(time.Duration)) error {
	pause, slept := time.Millisecond, time.Duration(0)
	for {
		err := op()
		if err == nil || !ephemeral(err) || slept+pause > budget {
			return err
		}
		sleep(pause)
		slept += pause
		pause += time.Duration(rand.Int64N(int64(pause) + 1))
	}
}

// The os functions the removals call; tests replace them to fail as Windows and wine do.
var (
	osRemove    = os.Remove
	osRemoveAll = os.RemoveAll
)

// Rename is os.Rename, retried while Windows says another program holds the file.
func Rename(oldpath, newpath string) error {
	return retry(func() error { return os.Rename(oldpath, newpath) })
}

// remove is os.Remove, retried like Rename; a path already gone is no error.
func remove(path string) error {
	err := retry(func() error { return osRemove(path) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveAll removes path and everything under it: every removal gostrap makes goes through
// it. A link (a symlink, a Windows junction such as <dir>\current) is removed itself, never
// what it leads to. When os.RemoveAll gives up (a file held open on Windows; under wine 8,
// every file fails with "unlinkat: Invalid function"), the tree is walked and removed file by
// file, so that everything that can go does; the error then names the first file that could
// not be removed and how many there were. A path that does not exist is no error.
func RemoveAll(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && !isPlainDir(fi.Mode()) {
		return remove(path)
	}
	err = retry(func() error { return osRemoveAll(path) })
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var left leftovers
	removeTree(path, &left)
	return left.err(path)
}

// isPlainDir reports whether m is a directory to descend into: not a symlink, and not a
// junction or other reparse point (which Go reports as irregular on Windows).
func isPlainDir(m fs.FileMode) bool { return m.Type() == fs.ModeDir }

// leftovers counts what a walk could not remove and keeps the first error.
type leftovers struct {
	n     int
	first error
}

func (l *leftovers) add(err error) {
	if err == nil {
		return
	}
	if l.n == 0 {
		l.first = err
	}
	l.n++
}

func (l *leftovers) err(path string) error {
	switch l.n {
	case 0:
		return nil
	case 1:
		return l.first
	}
	return &RemoveError{Path: path, Left: l.n, Err: l.first}
}

// RemoveError is a tree that could be removed only in part.
type RemoveError struct {
	Path string
	// Left is how many files and directories could not be removed.
	Left int
	// Err is the first of their failures.
	Err error
}

func (e *RemoveError) Error() string {
	return fmt.Sprintf("%d entries of %s could not be removed; the first: %v", e.Left, e.Path, e.Err)
}
func (e *RemoveError) Unwrap() error { return e.Err }

// removeTree removes dir's entries depth first, going on past failures, then dir itself.
func removeTree(dir string, left *leftovers) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		left.add(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		// The entry's own type, as Lstat gives it: a link is removed, never followed.
		if fi, err := os.Lstat(p); err == nil && isPlainDir(fi.Mode()) {
			removeTree(p, left)
			continue
		}
		left.add(remove(p))
	}
	left.add(remove(dir))
}
