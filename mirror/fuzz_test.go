package mirror

import (
	"errors"
	"go/version"
	"net/url"
	"strings"
	"testing"
)

// fuzzPlatforms are the platforms FuzzParseIndex asks every parsed release for.
var fuzzPlatforms = []Platform{{"linux", "amd64"}, {"linux", "arm"}, {"windows", "amd64"}, {"darwin", "arm64"}}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(sampleIndex))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`<html>`))
	f.Add([]byte(`{"version":"go1.22.3"}`))
	f.Add([]byte(`[{"version":"go1.20","stable":true,"files":[{"filename":"go1.20.windows-amd64.zip","os":"windows","arch":"amd64","version":"go1.20","sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36","size":1,"kind":"archive"}]}]`))
	f.Add([]byte(`[{"version":"go1.21","stable":true,"files":[{"filename":"go1.21.linux-amd64.tar.gz","os":"linux","arch":"amd64","sha256":"8920EA521BAD8F6B7BC377B4824982E011C19AF27DF88A815E3586EA895F1B36","size":-1,"kind":"archive"}]},{"version":"go1.21.0","files":null}]`))
	f.Add([]byte(`[{"version":"go1.22rc1","stable":true,"files":[{"filename":"..","os":"linux","arch":"amd64","sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36","size":9,"kind":"archive"},{"filename":"go1.22rc1.linux-armv6l.tar.gz","os":"linux","arch":"armv6l","sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36","size":9,"kind":"archive"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseIndex(data)
		if err != nil {
			var ie *IndexError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *IndexError", err)
			}
			if rs != nil {
				t.Fatalf("releases returned with an error: %v", rs)
			}
			return
		}
		for _, r := range rs {
			if !IsRelease(r.Version) {
				t.Fatalf("release %q kept, but it is not a Go release", r.Version)
			}
			if r.Stable && !IsStable(r.Version) {
				t.Fatalf("release %q marked stable", r.Version)
			}
			for _, file := range r.Files {
				if file.Filename == "" || file.Filename == "." || file.Filename == ".." || strings.ContainsAny(file.Filename, `/\:`) {
					t.Fatalf("release %s: unsafe file name %q kept", r.Version, file.Filename)
				}
				if !fuzzIsLowerHex64(file.SHA256) {
					t.Fatalf("release %s: file %q kept with sha256 %q", r.Version, file.Filename, file.SHA256)
				}
				if file.Size <= 0 {
					t.Fatalf("release %s: file %q kept with size %d", r.Version, file.Filename, file.Size)
				}
			}
			for _, p := range fuzzPlatforms {
				a, ok := r.Archive(p)
				if !ok {
					if a != (File{}) {
						t.Fatalf("release %s %s: not found, but returned %+v", r.Version, p, a)
					}
					continue
				}
				if want := p.ArchiveName(r.Version); a.Filename != want {
					t.Fatalf("release %s %s: archive %q, want %q", r.Version, p, a.Filename, want)
				}
				if a.Kind != "archive" || a.OS != p.OS || a.Arch != p.OfficialArch() {
					t.Fatalf("release %s %s: archive %+v is for another platform or not an archive", r.Version, p, a)
				}
			}
		}
		for _, p := range fuzzPlatforms {
			for _, v := range Versions(rs, p) {
				if !IsRelease(v.Version) {
					t.Fatalf("Versions(%s) lists %q", p, v.Version)
				}
			}
		}
	})
}

func fuzzIsLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func FuzzParseGOPROXY(f *testing.F) {
	for _, s := range []string{
		"https://goproxy.cn,direct",
		"https://goproxy.cn|https://goproxy.io|off",
		"proxy.example.com/sub/,http://127.0.0.1:8080 , file:///tmp/tree",
		"off",
		"direct",
		"noproxy",
		"",
		",,|",
		"ftp://x",
		"https://",
		"https://user@host:1/p?q=1#f|direct",
		" https://a ,  https://b/ |  direct , https://ignored",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseGOPROXY(s)
		if err != nil {
			if list != nil {
				t.Fatalf("list %v returned with error %v", list, err)
			}
			return
		}
		fuzzCheckProxyList(t, s, list)
		again, err := ParseGOPROXY(list.String())
		if err != nil {
			t.Fatalf("%q parsed as %#v, whose String %q does not parse: %v", s, list, list.String(), err)
		}
		fuzzCheckProxyList(t, list.String(), again)
		if len(again) != len(list) {
			t.Fatalf("%q parsed as %#v; its String %q parses as %#v", s, list, list.String(), again)
		}
		for i := range list {
			// String does not print the flag of the last element.
			if list[i].URL != again[i].URL || i < len(list)-1 && list[i].FallBackOnError != again[i].FallBackOnError {
				t.Fatalf("%q parsed as %#v; its String %q parses as %#v", s, list, list.String(), again)
			}
		}
	})
}

func fuzzCheckProxyList(t *testing.T, s string, list ProxyList) {
	t.Helper()
	if len(list) == 0 {
		t.Fatalf("%q: empty list without error", s)
	}
	for i, e := range list {
		if e.URL == "off" || e.URL == "direct" {
			if i != len(list)-1 {
				t.Fatalf("%q: %q is element %d of %d", s, e.URL, i, len(list))
			}
			continue
		}
		if strings.HasSuffix(e.URL, "/") {
			t.Fatalf("%q: element %d %q ends in /", s, i, e.URL)
		}
		u, err := url.Parse(e.URL)
		if err != nil {
			t.Fatalf("%q: element %d %q is not a URL: %v", s, i, e.URL, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file" {
			t.Fatalf("%q: element %d %q has scheme %q", s, i, e.URL, u.Scheme)
		}
		if strings.ContainsAny(e.URL, ",|") || e.URL != strings.TrimSpace(e.URL) {
			t.Fatalf("%q: element %d %q has a separator or surrounding space", s, i, e.URL)
		}
	}
	if list.Off() && (len(list) != 1 || list[0].URL != "off") {
		t.Fatalf("%q: Off() for %#v", s, list)
	}
}

// fuzzVersions is the release list FuzzParseSpec resolves against.
var fuzzVersions = []Version{
	{"go1.19", true}, {"go1.19.13", true}, {"go1.20", true}, {"go1.20.14", true},
	{"go1.21rc2", false}, {"go1.21.0", true}, {"go1.21.13", true},
	{"go1.22", true}, // a language version, not a release: never chosen
	{"go1.22rc1", false}, {"go1.22.0", true}, {"go1.22.3", true},
	{"go1.23beta1", false}, {"go1.23rc1", false},
	{"gonext", true}, {"", true},
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"latest", "stable", "", " ", "1.22", "go1.22", "1.22.3", "go1.22.3", "go1.20", "1.20", "1.23rc1",
		"go1.23beta1", "go1.21.0", "1.21", "gogo1.2", "go2", "1", "go1", "1.99999999999999999999", "go1.9.2rc2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSpec(s)
		if err != nil {
			return
		}
		if spec.Raw != s {
			t.Fatalf("ParseSpec(%q).Raw = %q", s, spec.Raw)
		}
		switch spec.Kind {
		case Latest:
			if spec.Version != "" {
				t.Fatalf("ParseSpec(%q): latest with version %q", s, spec.Version)
			}
		case Exact:
			if !version.IsValid(spec.Version) || !strings.HasPrefix(spec.Version, "go1.") {
				t.Fatalf("ParseSpec(%q): exact version %q is not a valid go1.x version", s, spec.Version)
			}
			if !IsRelease(spec.Version) {
				t.Fatalf("ParseSpec(%q): exact version %q is not a release", s, spec.Version)
			}
			// The version alone asks for the same release.
			if again, err := ParseSpec(spec.Version); err != nil || again.Kind != Exact || again.Version != spec.Version {
				t.Fatalf("ParseSpec(%q) = %+v, but ParseSpec(%q) = %+v, %v", s, spec, spec.Version, again, err)
			}
		case Line:
			if !version.IsValid(spec.Version) || version.Lang(spec.Version) != spec.Version || !strings.HasPrefix(spec.Version, "go1.") {
				t.Fatalf("ParseSpec(%q): line %q is not a language version", s, spec.Version)
			}
			bare := strings.TrimPrefix(spec.Version, "go")
			if again, err := ParseSpec(bare); err != nil || again.Kind != Line || again.Version != spec.Version {
				t.Fatalf("ParseSpec(%q) = %+v, but ParseSpec(%q) = %+v, %v", s, spec, bare, again, err)
			}
		default:
			t.Fatalf("ParseSpec(%q): kind %d", s, spec.Kind)
		}

		versions := fuzzVersions
		if spec.Kind == Exact {
			versions = append(versions[:len(versions):len(versions)], Version{spec.Version, IsStable(spec.Version)})
		}
		got, err := Resolve(spec, versions)
		if err != nil {
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Resolve(%+v): error %v is not a *NotFoundError", spec, err)
			}
			if spec.Kind == Exact {
				t.Fatalf("Resolve(%+v) with the version in the list: %v", spec, err)
			}
			if len(nf.Near) > 5 {
				t.Fatalf("Resolve(%+v): %d near versions", spec, len(nf.Near))
			}
			_ = err.Error()
			return
		}
		var found *Version
		for i := range versions {
			if versions[i].Version == got {
				found = &versions[i]
				break
			}
		}
		if found == nil {
			t.Fatalf("Resolve(%+v) = %q, not in the list", spec, got)
		}
		if !IsRelease(got) {
			t.Fatalf("Resolve(%+v) = %q, not a release", spec, got)
		}
		switch spec.Kind {
		case Exact:
			if got != spec.Version {
				t.Fatalf("Resolve(%+v) = %q", spec, got)
			}
		case Line:
			if version.Lang(got) != spec.Version || !found.Stable {
				t.Fatalf("Resolve(%+v) = %q, outside the line or not stable", spec, got)
			}
		case Latest:
			if !found.Stable {
				t.Fatalf("Resolve(%+v) = %q, not stable", spec, got)
			}
		}
		// Nothing newer that qualifies was passed over.
		for _, v := range versions {
			if !IsRelease(v.Version) || version.Compare(v.Version, got) <= 0 {
				continue
			}
			if spec.Kind == Latest && v.Stable || spec.Kind == Line && v.Stable && version.Lang(v.Version) == spec.Version {
				t.Fatalf("Resolve(%+v) = %q, but %q is newer", spec, got, v.Version)
			}
		}
	})
}
