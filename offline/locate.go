package offline

import (
	"archive/tar"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// MediaEnv overrides where Locate looks (a list separated like PATH): for tests, and for
// machines that mount media elsewhere.
const MediaEnv = "GOSTRAP_MEDIA"

// MediaPatterns are the glob patterns where removable media are mounted on this OS.
func MediaPatterns() []string {
	if v := os.Getenv(MediaEnv); v != "" {
		return filepath.SplitList(v)
	}
	switch runtime.GOOS {
	case "darwin":
		return []string{"/Volumes/*"}
	case "windows":
		var out []string
		for d := 'D'; d <= 'Z'; d++ {
			out = append(out, string(d)+`:\`)
		}
		return out
	}
	return []string{"/media/*/*", "/run/media/*/*", "/mnt/*", "/media/*"}
}

// Locate finds trees on mounted media: a directory holding a manifest, at a mount point or one
// level below it, or a .tar whose first member is a manifest.
func Locate(patterns []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, pat := range patterns {
		mounts, _ := filepath.Glob(pat)
		for _, m := range mounts {
			for _, d := range append([]string{m}, subdirs(m)...) {
				if _, err := os.Stat(filepath.Join(d, ManifestName)); err == nil {
					add(d)
				}
				tars, _ := filepath.Glob(filepath.Join(d, "*.tar"))
				for _, t := range tars {
					if isTree(t) {
						add(t)
					}
				}
			}
		}
	}
	return out
}

func subdirs(d string) []string {
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out
}

// isTree reports whether a tar starts with a manifest, as Pack writes it.
func isTree(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h, err := tar.NewReader(f).Next()
	return err == nil && h.Name == ManifestName
}
