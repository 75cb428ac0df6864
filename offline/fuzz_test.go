package offline

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"time"
)

const fuzzManifest = `{"format":"gostrap-tree/1","sumdb":"sum.test","entries":[{"version":"go1.22.3","platform":"linux/amd64","module":"v0.0.1-go1.22.3.linux-amd64","h1":"h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","record":"sumdb/sum.test/lookup/golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64","zip":"golang.org/toolchain/@v/v0.0.1-go1.22.3.linux-amd64.zip"}],"files":[{"path":"sumdb/sum.test/lookup/golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64","size":10,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"},{"path":"golang.org/toolchain/@v/v0.0.1-go1.22.3.linux-amd64.zip","size":10,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"}]}`

// fuzzUnproven is an entry synced while the checksum database was unreachable: no h1, no
// record, an archive an official index vouched for.
const fuzzUnproven = `{"format":"gostrap-tree/1","sumdb":"sum.test","entries":[{"version":"go1.22.3","platform":"linux/amd64","module":"v0.0.1-go1.22.3.linux-amd64","h1":"","record":"","archive":"go1.22.3.linux-amd64.tar.gz","official_sha256":true}],"files":[{"path":"go1.22.3.linux-amd64.tar.gz","size":10,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"}]}`

func FuzzParseManifest(f *testing.F) {
	// The seeds that reach the checks of an accepted manifest must stay accepted.
	for _, s := range []string{fuzzManifest, fuzzUnproven} {
		if _, err := ParseManifest([]byte(s)); err != nil {
			f.Fatalf("seed refused: %v", err)
		}
	}
	f.Add([]byte(fuzzManifest))
	f.Add([]byte(fuzzUnproven))
	f.Add([]byte(strings.Replace(fuzzManifest, `"zip":`, `"archive":"go1.22.3.linux-amd64.tar.gz","zip":`, 1)))
	f.Add([]byte(strings.Replace(fuzzManifest, `golang.org/toolchain/@v/v0.0.1-go1.22.3.linux-amd64.zip"}]`, `../x"}]`, 1)))
	f.Add([]byte(strings.Replace(fuzzManifest, `"size":10`, `"size":-1`, 1)))
	f.Add([]byte(`{"format":"gostrap-tree/1","files":[{"path":"a","size":0,"sha256":"8920EA521BAD8F6B7BC377B4824982E011C19AF27DF88A815E3586EA895F1B36"},{"path":"a","size":0,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"}]}`))
	f.Add([]byte(`{"format":"gostrap-tree/1","files":[{"path":"gostrap-manifest.json","size":1,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"}]}`))
	f.Add([]byte(`{"format":"gostrap-tree/1","files":[{"path":"c:\\x","size":1,"sha256":"8920ea521bad8f6b7bc377b4824982e011c19af27df88a815e3586ea895f1b36"}]}`))
	f.Add([]byte(`{"format":"gostrap-tree/1"}`))
	f.Add([]byte(`{"format":"gostrap-tree/2"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatalf("manifest returned with error %v", err)
			}
			return
		}
		if m.Format != Format {
			t.Fatalf("format %q accepted", m.Format)
		}
		seen := map[string]bool{}
		for _, file := range m.Files {
			p := file.Path
			if !fs.ValidPath(p) || p == "." || strings.ContainsAny(p, `\:`) || p == ManifestName {
				t.Fatalf("invalid path %q accepted", p)
			}
			if seen[p] {
				t.Fatalf("path %q listed twice", p)
			}
			seen[p] = true
			if b, err := hex.DecodeString(file.SHA256); err != nil || len(b) != 32 {
				t.Fatalf("%s: sha256 %q accepted", p, file.SHA256)
			}
			if file.Size < 0 {
				t.Fatalf("%s: size %d accepted", p, file.Size)
			}
			if got, ok := m.File(p); !ok || got != file {
				t.Fatalf("File(%q) = %+v, %v; want %+v", p, got, ok, file)
			}
		}
		for _, e := range m.Entries {
			switch {
			case e.Record == "" && e.H1 == "":
				if e.Zip != "" || e.Archive == "" || !e.OfficialSHA256 {
					t.Fatalf("entry %+v with neither a checksum-database record nor an officially vouched archive", e)
				}
			case e.Record == "" || !strings.HasPrefix(e.H1, "h1:"):
				t.Fatalf("entry %+v without a checksum-database record", e)
			}
			for _, p := range []string{e.Record, e.Zip, e.Archive} {
				if p != "" && !seen[p] {
					t.Fatalf("entry %+v refers to %q, which is not listed", e, p)
				}
			}
			if got, ok := m.Entry(e.Version, e.Platform); !ok || got.Version != e.Version || got.Platform != e.Platform {
				t.Fatalf("Entry(%q, %q) = %+v, %v", e.Version, e.Platform, got, ok)
			}
		}
		// What was accepted survives a round trip through JSON unchanged, and is accepted again
		// (a Writer re-encodes the files and entries of the manifest it opened; Created it
		// makes afresh).
		c := *m
		c.Created = time.Time{}
		out, err := json.Marshal(&c)
		if err != nil {
			t.Fatalf("marshal accepted manifest: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("re-encoded manifest refused: %v\n%s", err, out)
		}
		out2, err := json.Marshal(m2)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("re-encoded manifest changed:\n%s\n%s", out, out2)
		}
	})
}
