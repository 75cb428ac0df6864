package gostrap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/gostrap/gostrap/mirror"
)

// SpecFromDir returns the version a project asks for when no version is given: the toolchain
// line of its go.mod, else the go line, else the first line of .go-version, else latest. The
// files are looked for in dir and then its parents, as the go command finds go.mod. origin
// names the file the answer came from ("" for the latest-release default).
//
// A go line of 1.N.M or 1.NrcK asks for exactly that release, as the go command would switch
// to it; a go line of 1.N (a language version) asks for the newest patch of 1.N.
func SpecFromDir(dir string) (spec mirror.Spec, origin string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		gomod := filepath.Join(d, "go.mod")
		data, err := os.ReadFile(gomod)
		if err == nil {
			spec, err := specFromGoMod(gomod, data)
			if err != nil {
				return mirror.Spec{}, gomod, err
			}
			if spec != nil {
				return *spec, gomod, nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return mirror.Spec{}, gomod, err
		}
		gv := filepath.Join(d, ".go-version")
		data, err = os.ReadFile(gv)
		if err == nil {
			line, _, _ := strings.Cut(string(data), "\n")
			spec, err := mirror.ParseSpec(strings.TrimSpace(line))
			if err != nil {
				return mirror.Spec{}, gv, fmt.Errorf("%s: %w", gv, err)
			}
			return spec, gv, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return mirror.Spec{}, gv, err
		}
		if filepath.Dir(d) == d {
			return mirror.Spec{Kind: mirror.Latest}, "", nil
		}
	}
}

func specFromGoMod(path string, data []byte) (*mirror.Spec, error) {
	// The project's go.mod is a main module: Parse reads its toolchain line, which ParseLax
	// (meant for dependencies) skips. A file with directives newer than this parser knows
	// still yields its go line through ParseLax.
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		if f, err = modfile.ParseLax(path, data, nil); err != nil {
			return nil, err
		}
	}
	if f.Toolchain != nil && f.Toolchain.Name != "default" {
		// Toolchain names may carry a suffix (go1.22.3-bigcorp); the release is before it.
		name, _, _ := strings.Cut(f.Toolchain.Name, "-")
		spec, err := mirror.ParseSpec(name)
		if err != nil {
			return nil, fmt.Errorf("%s: toolchain %s: %w", path, f.Toolchain.Name, err)
		}
		return &spec, nil
	}
	if f.Go != nil {
		spec, err := mirror.ParseSpec(f.Go.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: go %s: %w", path, f.Go.Version, err)
		}
		return &spec, nil
	}
	return nil, nil
}
