package mirror

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/internal/failure"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind SpecKind
		v    string
		err  bool
	}{
		{"", 0, "", true}, // an empty argument is a mistake, not "latest"
		{" ", 0, "", true},
		{"latest", Latest, "", false},
		{"1.22", Line, "go1.22", false},
		{"go1.22", Line, "go1.22", false}, // a language version from 1.21 on
		{"1.20", Line, "go1.20", false},
		{"go1.20", Exact, "go1.20", false}, // the first release of 1.20 was named go1.20
		{"1.22.3", Exact, "go1.22.3", false},
		{"go1.22.3", Exact, "go1.22.3", false},
		{"1.21.0", Exact, "go1.21.0", false},
		{"1.23rc1", Exact, "go1.23rc1", false},
		{"go1.22beta2", Exact, "go1.22beta2", false},
		{"1", 0, "", true},
		{"go1", 0, "", true},
		{"2.0", 0, "", true},
		{"1.x", 0, "", true},
		{"1.22.", 0, "", true},
		{"v1.22.3", 0, "", true},
		{"1.22.3 ", Exact, "go1.22.3", false},
		{"../1.22", 0, "", true},
		{"1.2x", 0, "", true}, // go/version calls it a pre-release; it is a typo
		{"1.22beta", 0, "", true},
		{"1.21.x", 0, "", true},
		{"1.21.0rc1", 0, "", true},
		{"1.22alpha1", 0, "", true},
	} {
		s, err := ParseSpec(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseSpec(%q) err = %v", tc.in, err)
			continue
		}
		if err == nil && (s.Kind != tc.kind || s.Version != tc.v) {
			t.Errorf("ParseSpec(%q) = %v %q, want %v %q", tc.in, s.Kind, s.Version, tc.kind, tc.v)
		}
	}
}

func TestResolve(t *testing.T) {
	vs := []Version{
		{"go1.23rc1", false}, {"go1.22.3", true}, {"go1.22.0", true}, {"go1.22rc2", false},
		{"go1.21.13", true}, {"go1.21.0", true}, {"go1.20.14", true}, {"go1.20", true}, {"go1.9.7", true},
	}
	for _, tc := range []struct {
		spec, want string
	}{
		{"latest", "go1.22.3"},
		{"1.22", "go1.22.3"},
		{"1.21", "go1.21.13"},
		{"1.20", "go1.20.14"},
		{"go1.20", "go1.20"},
		{"1.9", "go1.9.7"},
		{"1.22rc2", "go1.22rc2"},
		{"1.23rc1", "go1.23rc1"},
		{"1.23", ""},
		{"1.22.9", ""},
	} {
		s, err := ParseSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Resolve(s, vs)
		if tc.want == "" {
			var nf *NotFoundError
			if !errors.As(err, &nf) || failure.Classify(err) != failure.NotFound {
				t.Errorf("Resolve(%s) = %q, %v; want not found", tc.spec, got, err)
			}
			continue
		}
		if got != tc.want || err != nil {
			t.Errorf("Resolve(%s) = %q, %v; want %s", tc.spec, got, err, tc.want)
		}
	}
	s, _ := ParseSpec("1.23")
	_, err := Resolve(s, vs)
	if !strings.Contains(err.Error(), "go1.23rc1") {
		t.Errorf("not-found error does not name the pre-release on that line: %v", err)
	}
}

func TestParseGOPROXY(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String() of the result
		fall []bool
		err  bool
	}{
		{"https://a.test,https://b.test", "https://a.test,https://b.test", []bool{false, false}, false},
		{"a.test|b.test,direct", "https://a.test|https://b.test,direct", []bool{true, false, false}, false},
		{"https://a.test/,off,https://never.test", "https://a.test,off", []bool{false, false}, false},
		{"direct", "direct", []bool{false}, false},
		{"off", "off", []bool{false}, false},
		{"file:///media/usb/bundle", "file:///media/usb/bundle", []bool{false}, false},
		{" , ,a.test", "https://a.test", []bool{false}, false},
		{"", "", nil, true},
		{"ftp://a.test", "", nil, true},
		{"noproxy", "", nil, true},
		// cmd/go's rules: a single word has no scheme and is not a host; an absolute path is
		// not a URL; a host with a port gets https.
		{"garbage", "", nil, true},
		{"localhost", "", nil, true},
		{"127.0.0.1:8080/p/", "https://127.0.0.1:8080/p", []bool{false}, false},
		{"/srv/proxy", "", nil, true},
		{"file://host/srv/proxy", "", nil, true},
		{"file:///srv/proxy?x=1", "", nil, true},
		{"https://", "", nil, true},
		{"https://a.test,garbage", "", nil, true},
	} {
		l, err := ParseGOPROXY(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseGOPROXY(%q) err = %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		var fall []bool
		for _, e := range l {
			fall = append(fall, e.FallBackOnError)
		}
		if l.String() != tc.want || !slices.Equal(fall, tc.fall) {
			t.Errorf("ParseGOPROXY(%q) = %q %v, want %q %v", tc.in, l.String(), fall, tc.want, tc.fall)
		}
	}
}

// Try falls through on 404/410 after ",", on anything after "|", and reports the most helpful
// error.
func TestProxyTry(t *testing.T) {
	notFound := &download.HTTPError{StatusCode: 404, Status: "404 Not Found"}
	broken := &download.HTTPError{StatusCode: 500, Status: "500 Internal Server Error"}
	for _, tc := range []struct {
		goproxy string
		errs    map[string]error
		tried   []string
		err     error
	}{
		{"a.test,b.test", map[string]error{"https://a.test": notFound}, []string{"https://a.test", "https://b.test"}, nil},
		{"a.test,b.test", map[string]error{"https://a.test": broken}, []string{"https://a.test"}, broken},
		{"a.test|b.test", map[string]error{"https://a.test": broken}, []string{"https://a.test", "https://b.test"}, nil},
		{"a.test|b.test", map[string]error{"https://a.test": broken, "https://b.test": notFound}, []string{"https://a.test", "https://b.test"}, broken},
		{"a.test,off", map[string]error{"https://a.test": notFound}, []string{"https://a.test"}, notFound},
		{"off", nil, nil, ErrProxyOff},
		{"a.test,direct", map[string]error{"https://a.test": notFound}, []string{"https://a.test", DirectToolchainBase}, nil},
	} {
		l, err := ParseGOPROXY(tc.goproxy)
		if err != nil {
			t.Fatal(err)
		}
		var tried []string
		err = l.Try(func(base string) error {
			tried = append(tried, base)
			return tc.errs[base]
		})
		if !slices.Equal(tried, tc.tried) || !errors.Is(err, tc.err) && err != tc.err {
			t.Errorf("%s with %v: tried %v err %v; want %v %v", tc.goproxy, tc.errs, tried, err, tc.tried, tc.err)
		}
		if errors.Is(tc.err, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: not-found lost", tc.goproxy)
		}
	}
}

func TestPlatformNames(t *testing.T) {
	for _, tc := range []struct {
		p              Platform
		archive, tcmod string
	}{
		{Platform{"linux", "amd64"}, "go1.22.3.linux-amd64.tar.gz", "v0.0.1-go1.22.3.linux-amd64"},
		{Platform{"linux", "arm"}, "go1.22.3.linux-armv6l.tar.gz", "v0.0.1-go1.22.3.linux-arm"},
		{Platform{"windows", "arm64"}, "go1.22.3.windows-arm64.zip", "v0.0.1-go1.22.3.windows-arm64"},
		{Platform{"darwin", "arm64"}, "go1.22.3.darwin-arm64.tar.gz", "v0.0.1-go1.22.3.darwin-arm64"},
	} {
		if got := tc.p.ArchiveName("go1.22.3"); got != tc.archive {
			t.Errorf("%v archive %s, want %s", tc.p, got, tc.archive)
		}
		if got := tc.p.ToolchainVersion("go1.22.3"); got != tc.tcmod {
			t.Errorf("%v module %s, want %s", tc.p, got, tc.tcmod)
		}
		if v, ok := tc.p.GoVersionFromToolchain(tc.tcmod); !ok || v != "go1.22.3" {
			t.Errorf("%v: GoVersionFromToolchain(%s) = %s %v", tc.p, tc.tcmod, v, ok)
		}
	}
	for _, bad := range []string{"linux/../x", "plan10/z80", "linux/z80", "linux/armv6l", "linux", "Linux/amd64", "/amd64"} {
		_, err := ParsePlatform(bad)
		var pe *PlatformError
		if !errors.As(err, &pe) {
			t.Errorf("ParsePlatform(%q) = %v, want a *PlatformError", bad, err)
		}
	}
	for _, good := range []string{"linux/amd64", "windows/arm64", "darwin/386", "freebsd/riscv64", "js/wasm"} {
		if _, err := ParsePlatform(good); err != nil {
			t.Errorf("ParsePlatform(%q): %v", good, err)
		}
	}
}

func TestParseToolchainList(t *testing.T) {
	list := "v0.0.1-go1.22.3.linux-amd64\nv0.0.1-go1.22.3.linux-arm64\nv0.0.1-go1.23rc1.linux-amd64\n" +
		"v0.0.1-go1.22.3.linux-amd64\ngarbage\nv0.0.1-go1.22.linux-amd64\n"
	got := ParseToolchainList([]byte(list), Platform{"linux", "amd64"})
	want := []Version{{"go1.22.3", true}, {"go1.23rc1", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
