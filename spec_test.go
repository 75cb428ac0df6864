package gostrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/mirror"
)

// go.mod is read as the go command reads a main module's go.mod (modfile.Parse, strict); the
// cases are the go command's own rules (go help go.mod, cmd/go's gover.FromToolchain).
func TestSpecFromGoMod(t *testing.T) {
	const mod = "module example.com/m\n\n"
	for _, tc := range []struct {
		name, gomod string
		want        string // Spec.String(); "" with line for an error
		line        int
	}{
		{"language version", mod + "go 1.22\n", "go1.22.x", 0},
		{"release", mod + "go 1.21.0\n", "go1.21.0", 0},
		{"release candidate", mod + "go 1.21rc1\n", "go1.21rc1", 0},
		{"before 1.21", mod + "go 1.20\n", "go1.20.x", 0},
		{"toolchain wins when newer", mod + "go 1.21.0\ntoolchain go1.21.3\n", "go1.21.3", 0},
		{"toolchain never lowers", mod + "go 1.22.5\ntoolchain go1.22.1\n", "go1.22.5", 0},
		{"toolchain default", mod + "go 1.21.0\ntoolchain default\n", "go1.21.0", 0},
		{"toolchain with a suffix", mod + "go 1.21\ntoolchain go1.22.3-bigcorp\n", "go1.22.3", 0},
		{"toolchain alone", mod + "toolchain go1.22.3\n", "go1.22.3", 0},
		{"no go line", mod, "", 0},
		{"a typo", mod + "go 1.2x\n", "", 3},
		{"a placeholder", mod + "go 1.21.x\n", "", 3},
		{"no space", mod + "go1.21\n", "", 3},
		{"a v prefix", mod + "go v1.21\n", "", 3},
		{"two arguments", mod + "go 1.21 1.22\n", "", 3},
		{"repeated", mod + "go 1.21\ngo 1.22\n", "", 4},
		{"toolchain without go", mod + "go 1.21\ntoolchain 1.21.3\n", "", 4},
		{"toolchain placeholder", mod + "go 1.21\ntoolchain go1.21.x\n", "", 4},
		{"toolchain gccgo", mod + "go 1.21\ntoolchain gccgo-go1.21.3\n", "", 4},
		{"unknown directive, old go", mod + "go 1.22\nfrobnicate x\n", "", 4},
		// A go.mod from a Go newer than gostrap's may use directives this parser does not know:
		// the go command then reads it leniently to switch toolchains, and so does gostrap.
		{"unknown directive, future go", mod + "go 1.99.0\nfrobnicate x\n", "go1.99.0", 0},
		{"future go, bad line", mod + "go 1.99x\nfrobnicate x\n", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "go.mod")
			if err := os.WriteFile(path, []byte(tc.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			spec, err := specFromGoMod(path, []byte(tc.gomod))
			if tc.line == 0 {
				got := ""
				if spec != nil {
					got = spec.String()
				}
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			var vfe *VersionFileError
			if !errors.As(err, &vfe) || vfe.Line != tc.line || !strings.Contains(err.Error(), "go.mod:") {
				t.Fatalf("got %v, %v; want a VersionFileError at line %d", spec, err, tc.line)
			}
		})
	}
}

func TestSpecFromGoVersion(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
		line int
	}{
		{"1.22.3\n", "go1.22.3", 0},
		{"go1.22\n", "go1.22.x", 0},
		{"# pinned for CI\n\n1.21.13\n", "go1.21.13", 0},
		{"1.2x\n", "", 1},
		{"1.22.3\n1.21.0\n", "", 2},
		{"\n\n", "", -1},
	} {
		spec, err := specFromGoVersion("/p/.go-version", []byte(tc.file))
		if tc.line == 0 {
			if err != nil || spec.String() != tc.want {
				t.Errorf("%q: got %v, %v; want %s", tc.file, spec, err, tc.want)
			}
			continue
		}
		var vfe *VersionFileError
		if !errors.As(err, &vfe) || tc.line > 0 && vfe.Line != tc.line {
			t.Errorf("%q: got %v, %v; want an error at line %d", tc.file, spec, err, tc.line)
		}
	}
}

// go.mod wins over .go-version in the same directory; the search goes up to the parents.
func TestSpecFromDir(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(root, ".go-version"), []byte("1.21.13\n"), 0o644)
	spec, origin, err := SpecFromDir(sub)
	if err != nil || spec.String() != "go1.21.13" || origin != filepath.Join(root, ".go-version") {
		t.Fatalf("got %v from %s, %v", spec, origin, err)
	}
	os.WriteFile(filepath.Join(root, "a", "go.mod"), []byte("module m\n\ngo 1.22.3\n"), 0o644)
	spec, origin, err = SpecFromDir(sub)
	if err != nil || spec.Kind != mirror.Exact || spec.Version != "go1.22.3" || origin != filepath.Join(root, "a", "go.mod") {
		t.Fatalf("got %v from %s, %v", spec, origin, err)
	}
}
