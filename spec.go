package gostrap

import (
	"errors"
	"fmt"
	"go/version"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/gostrap/gostrap/mirror"
)

// VersionFileError is a go.mod or .go-version that gostrap cannot read a version from: a line
// the go command refuses too ("go 1.2x", "toolchain 1.21"), or one that names no Go release.
// It is bad input, never a guess: a typo in go.mod must not install a 2013 Go.
type VersionFileError struct {
	Path string
	// Line is the offending line, 0 when the file as a whole is wrong.
	Line int
	Err  error
}

func (e *VersionFileError) Error() string {
	var el modfile.ErrorList
	if errors.As(e.Err, &el) {
		return el.Error() // each error already begins with file:line
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *VersionFileError) Unwrap() error { return e.Err }

func (e *VersionFileError) Hint() string {
	name := filepath.Base(e.Path)
	if name == "go.mod" {
		return "fix that line of go.mod (the go command refuses it too: 'go 1.22', 'go 1.22.3', " +
			"'toolchain go1.22.3'), or name the version: gostrap install 1.22.3"
	}
	return "write one version in " + name + " (" + mirror.SpecForms + "), or name the version: gostrap install 1.22.3"
}

// SpecFromDir returns the version a project asks for when no version is given: from its go.mod
// (the newer of the toolchain and go lines, as the go command chooses), else the version in
// .go-version, else latest. The files are looked for in dir and then its parents, as the go
// command finds go.mod. origin names the file the answer came from ("" for the latest-release
// default).
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
			spec, err := specFromGoVersion(gv, data)
			return spec, gv, err
		} else if !errors.Is(err, fs.ErrNotExist) {
			return mirror.Spec{}, gv, err
		}
		if filepath.Dir(d) == d {
			return mirror.Spec{Kind: mirror.Latest}, "", nil
		}
	}
}

// specFromGoMod reads the go and toolchain lines of a main module's go.mod as cmd/go does
// (modload.ReadModFile): strictly, with modfile.Parse. Only a file from a Go newer than the one
// gostrap was built with may carry directives this parser does not know; then, as the go
// command switches toolchains for it, its go line is read leniently, provided the line itself
// is well formed.
func specFromGoMod(path string, data []byte) (*mirror.Spec, error) {
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		lax, laxErr := modfile.ParseLax(path, data, nil)
		if laxErr != nil || lax.Go == nil || !newerThanSelf(lax.Go.Version) || !wellFormedGoLine(data, lax.Go) {
			return nil, &VersionFileError{Path: path, Line: firstErrorLine(err), Err: err}
		}
		f = lax
	}
	var goSpec, tcSpec *mirror.Spec
	if f.Go != nil {
		spec, err := mirror.ParseSpec(f.Go.Version)
		if err != nil {
			return nil, &VersionFileError{Path: path, Line: f.Go.Syntax.Start.Line, Err: fmt.Errorf("go %s: %w", f.Go.Version, err)}
		}
		goSpec = &spec
	}
	if f.Toolchain != nil && f.Toolchain.Name != "default" {
		v, ok := toolchainVersion(f.Toolchain.Name)
		spec, err := mirror.ParseSpec(v)
		if !ok || err != nil {
			return nil, &VersionFileError{Path: path, Line: f.Toolchain.Syntax.Start.Line,
				Err: fmt.Errorf("invalid toolchain %q: want go1.N.M, go1.NrcK (a suffix such as -custom is allowed) or default", f.Toolchain.Name)}
		}
		tcSpec = &spec
	}
	switch {
	case tcSpec == nil:
		return goSpec, nil
	case goSpec == nil:
		return tcSpec, nil
	}
	// The toolchain line only ever raises the requirement: a toolchain older than the go line
	// could not build the module, and the go command would not use it either.
	if version.Compare(tcSpec.Version, goSpec.Version) >= 0 {
		return tcSpec, nil
	}
	return goSpec, nil
}

// toolchainVersion is cmd/go's gover.FromToolchain: the Go version a toolchain name runs, the
// part between "go" and a suffix that begins with "-" or white space.
func toolchainVersion(name string) (string, bool) {
	if strings.ContainsAny(name, `\/`) {
		return "", false
	}
	v, ok := strings.CutPrefix(name, "go")
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(v, " \t-"); i >= 0 {
		v = v[:i]
	}
	return "go" + v, version.IsValid("go" + v)
}

// newerThanSelf reports whether a go.mod's go version is newer than the Go gostrap was built
// with: the go command's condition for reading a file it cannot parse leniently.
func newerThanSelf(goVersion string) bool {
	self := runtime.Version()
	if !version.IsValid(self) {
		return false
	}
	return version.Compare("go"+goVersion, self) > 0
}

// wellFormedGoLine reports whether the go line as written (ParseLax rewrites "1.22x" to "1.22")
// is one the strict parser accepts.
func wellFormedGoLine(data []byte, g *modfile.Go) bool {
	lines := strings.Split(string(data), "\n")
	n := g.Syntax.Start.Line
	if n < 1 || n > len(lines) {
		return false
	}
	f := strings.Fields(lines[n-1])
	return len(f) >= 2 && f[0] == "go" && modfile.GoVersionRE.MatchString(f[1]) && f[1] == g.Version
}

func firstErrorLine(err error) int {
	var el modfile.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		return el[0].Pos.Line
	}
	return 0
}

// specFromGoVersion reads a .go-version file (goenv, asdf, setup-go): one version, blank lines
// and # comments aside. A second version or an invalid one is an error naming the line.
func specFromGoVersion(path string, data []byte) (mirror.Spec, error) {
	var spec *mirror.Spec
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if spec != nil {
			return mirror.Spec{}, &VersionFileError{Path: path, Line: i + 1, Err: fmt.Errorf("a second version %q: the file holds one", line)}
		}
		s, err := mirror.ParseSpec(line)
		if err != nil {
			return mirror.Spec{}, &VersionFileError{Path: path, Line: i + 1, Err: err}
		}
		spec = &s
	}
	if spec == nil {
		return mirror.Spec{}, &VersionFileError{Path: path, Err: errors.New("holds no version")}
	}
	return *spec, nil
}
