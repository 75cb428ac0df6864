package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

var errBusy = errors.New("busy")

func TestRetryFor(t *testing.T) {
	ephemeral := func(err error) bool { return errors.Is(err, errBusy) }
	for _, tc := range []struct {
		name      string
		failures  int   // how many calls fail before one succeeds
		err       error // what they fail with
		wantCalls int
		wantErr   error
	}{
		{"success", 0, nil, 1, nil},
		{"passes", 3, errBusy, 4, nil},
		{"permanent", 5, fs.ErrPermission, 1, fs.ErrPermission},
		{"outlasts the budget", 1 << 20, errBusy, -1, errBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var slept time.Duration
			err := retryFor(func() error {
				calls++
				if calls <= tc.failures {
					return tc.err
				}
				return nil
			}, ephemeral, retryBudget, func(d time.Duration) { slept += d })
			if !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
			if tc.wantCalls >= 0 && calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if slept > retryBudget {
				t.Errorf("slept %v, more than the budget %v", slept, retryBudget)
			}
			if tc.wantCalls < 0 {
				// The pause grows: 2 s of retries take tens of calls, not thousands.
				if calls < 5 || calls > 200 {
					t.Errorf("%d calls in %v of pauses", calls, slept)
				}
				if slept < retryBudget/4 {
					t.Errorf("gave up after %v of pauses", slept)
				}
			}
		})
	}
}

// tree makes dir/a/b/file, dir/c/file and dir/file.
func tree(t *testing.T, dir string) {
	t.Helper()
	for _, p := range []string{"a/b/file", "c/file", "file"} {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wineRemoveAll fails as os.RemoveAll does under wine 8: on the first file, with "Invalid
// function", having removed nothing.
func wineRemoveAll(path string) error {
	return &fs.PathError{Op: "unlinkat", Path: filepath.Join(path, "file"), Err: errors.New("Invalid function.")}
}

func TestRemoveAllFallsBack(t *testing.T) {
	defer func(f func(string) error) { osRemoveAll = f }(osRemoveAll)
	osRemoveAll = wineRemoveAll
	dir := filepath.Join(t.TempDir(), "go1.22.3")
	tree(t, dir)
	if err := RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still there: %v", dir, err)
	}
	if err := RemoveAll(dir); err != nil {
		t.Errorf("removing what is gone: %v", err)
	}
}

func TestRemoveAllReportsWhatStays(t *testing.T) {
	defer func(f, g func(string) error) { osRemoveAll, osRemove = f, g }(osRemoveAll, osRemove)
	osRemoveAll = wineRemoveAll
	// Files named "file" under a/ are held open by another program.
	osRemove = func(p string) error {
		if strings.Contains(filepath.ToSlash(p), "/a/") && filepath.Base(p) == "file" {
			return &fs.PathError{Op: "remove", Path: p, Err: errBusy}
		}
		return os.Remove(p)
	}
	dir := filepath.Join(t.TempDir(), "go1.22.3")
	tree(t, dir)
	err := RemoveAll(dir)
	var re *RemoveError
	if !errors.As(err, &re) || !errors.Is(err, errBusy) {
		t.Fatalf("err %v, want a RemoveError wrapping the busy file's", err)
	}
	// a/b/file stays, and so do a/b, a and the top: 4 entries.
	if re.Left != 4 || !strings.Contains(err.Error(), "4 entries of "+dir) {
		t.Errorf("err %v (left %d), want 4 entries left", err, re.Left)
	}
	// Everything else went.
	for _, gone := range []string{"c", "file"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b", "file")); err != nil {
		t.Errorf("the busy file: %v", err)
	}
}

func TestRemoveAllKeepsLinkTargets(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows; the junction tests cover links there")
	}
	for _, fallback := range []bool{false, true} {
		name := "os.RemoveAll"
		if fallback {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			if fallback {
				defer func(f func(string) error) { osRemoveAll = f }(osRemoveAll)
				osRemoveAll = wineRemoveAll
			}
			base := t.TempDir()
			target := filepath.Join(base, "go1.22.3")
			tree(t, target)
			// The trash holds an old link to a toolchain, and a tree with a link inside.
			trashed := filepath.Join(base, "trash", "current-1")
			os.MkdirAll(filepath.Dir(trashed), 0o755)
			if err := os.Symlink(target, trashed); err != nil {
				t.Fatal(err)
			}
			other := filepath.Join(base, "trash", "go1.21.0-1")
			tree(t, other)
			os.Symlink(target, filepath.Join(other, "a", "link"))
			for _, p := range []string{trashed, other} {
				if err := RemoveAll(p); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s not removed", p)
				}
			}
			if _, err := os.Stat(filepath.Join(target, "a", "b", "file")); err != nil {
				t.Errorf("the link's target lost a file: %v", err)
			}
		})
	}
}

// TestRemoveAllPermission: a directory nobody may write to keeps its files, and RemoveAll says
// which (as root, permissions stop nothing: skipped).
func TestRemoveAllPermission(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs Unix permissions that bind the user")
	}
	dir := filepath.Join(t.TempDir(), "go1.22.3")
	tree(t, dir)
	os.Chmod(filepath.Join(dir, "a", "b"), 0o555)
	defer os.Chmod(filepath.Join(dir, "a", "b"), 0o755)
	err := RemoveAll(dir)
	if !errors.Is(err, syscall.EACCES) && !errors.Is(err, fs.ErrPermission) {
		t.Errorf("err %v, want permission denied", err)
	}
}
