// Command mutate checks that the trust table (verify/decide_test.go) guards every rule of
// verify.Decide: it removes or inverts one rule at a time, builds the package with the change
// through the go command's -overlay (nothing in the tree is touched), runs TestDecide, and
// reports each mutant the table failed to kill.
//
//	go run ./bench/mutate
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A mutant replaces one piece of decide.go.
type mutant struct {
	rule, old, new string
}

var mutants = []mutant{
	{"1: the manifest names the release's module", "if m := e.Manifest; m != nil && m.Module != e.Want.Module {", "if m := e.Manifest; false && m != nil {"},
	{"1: the log's record is the release's module", "if s := e.SumDB; s != nil && s.H1 != \"\" && s.Module != e.Want.Module {", "if s := e.SumDB; false && s != nil {"},
	{"1: the cache record is the release's", "if c := e.Cache; c != nil && (c.Version != e.Want.Version || c.Platform != e.Want.Platform) {", "if c := e.Cache; false && c != nil {"},
	{"1: the tree was hashed as the release's module", "if g := e.Got; g != nil && g.H1 != \"\" && g.Module != e.Want.Module {", "if g := e.Got; false && g != nil {"},
	{"2: an index must be a root", "case e.Index != nil && e.Index.Root && e.Format", "case e.Index != nil && e.Format"},
	{"2: an index vouches for archives only", "e.Index.Root && e.Format == Archive && (", "e.Index.Root && ("},
	{"2: an index vouches for official and mirror bytes only", "&& (e.Kind == FromOfficial || e.Kind == FromMirror):", ":"},
	{"2: a misbehaving log beside an index is said", "if sumdbSecurity {\n\t\t\tv.Warning", "if false {\n\t\t\tv.Warning"},
	{"2: a misbehaving log with no index is fatal", "case sumdbSecurity:\n\t\treturn noRoot, e.SumDB.Err", "case false:\n\t\treturn noRoot, e.SumDB.Err"},
	{"2: a bundle needs its proof", "case e.Kind == FromBundle:", "case false:"},
	{"2: a proxy without its log cannot serve", "case e.Kind == FromProxy && e.SumDB != nil && e.SumDB.Err != nil:", "case false:"},
	{"2: a mirror's own checksum only for mirrors", "case e.Mirror != nil && e.Kind == FromMirror:", "case e.Mirror != nil:"},
	{"2: a pending log vouches for nothing yet downloaded", "case e.SumDB == nil && e.Got == nil:", "case e.SumDB == nil:"},
	{"2: the cache needs its record", "if e.Cache == nil {\n\t\t\treturn noRoot", "if false {\n\t\t\treturn noRoot"},
	{"3: a disk failure is the disk's", "if errors.As(g.Extract, &disk) {", "if false && errors.As(g.Extract, &disk) {"},
	{"4: the manifest must agree", "if m := e.Manifest; m != nil && (m.Size != g.Size || m.SHA256 != g.SHA256) {", "if m := e.Manifest; false && m != nil {"},
	{"4: sizes must agree", "if wantSize > 0 && g.Size != wantSize {", "if false {"},
	{"4: digests must agree", "if want != \"\" && !strings.EqualFold(want, g.SHA256) {", "if false {"},
	{"5: an extraction failure refuses", "if g.Extract != nil {\n\t\tif !errors.Is", "if false {\n\t\tif !errors.Is"},
	{"5: malformed under the log alone is a security error", "if !errors.Is(g.Extract, ErrMalformed) || r != sumdbRoot {", "if true {"},
	{"6: the tree must equal the log's record", "if g.H1 != s.H1 {", "if false {"},
	{"6: the log as root needs a tree hash", "if g.H1 == \"\" {\n\t\t\treturn &UntrustedError", "if false {\n\t\t\treturn &UntrustedError"},
	{"6: a second proof is recorded", "v.Method += \"+\" + second", "_ = second"},
	{"6: the cache's h1 must agree", "if g.H1 != \"\" && rec.H1 != \"\" && g.H1 != rec.H1 {", "if false {"},
	{"7: modes follow the rule under the log alone", "case r == sumdbRoot:\n\t\tv.ModesByRule, v.StripOmitted = true, true", "case r == sumdbRoot:"},
	{"7: modes follow the rule for a cache of the log alone", "case r == cacheRoot && !strings.Contains(e.Cache.Verified.Method, MethodSHA256):\n\t\tv.ModesByRule, v.StripOmitted = true, true", "case false:"},
	{"7: modes taken from the archive are refused", "if v.ModesByRule && !e.Got.ModesByRule {", "if false {"},
}

func main() {
	src := filepath.Join("verify", "decide.go")
	orig, err := os.ReadFile(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate: run from the repository root:", err)
		os.Exit(2)
	}
	abs, _ := filepath.Abs(src)
	tmp, err := os.MkdirTemp("", "mutate")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	survived := 0
	for i, m := range mutants {
		if strings.Count(string(orig), m.old) != 1 {
			fmt.Printf("%-60s  NOT FOUND (update bench/mutate)\n", m.rule)
			survived++
			continue
		}
		mutated := filepath.Join(tmp, fmt.Sprintf("decide%d.go", i))
		os.WriteFile(mutated, []byte(strings.Replace(string(orig), m.old, m.new, 1)), 0o644)
		overlay := filepath.Join(tmp, fmt.Sprintf("overlay%d.json", i))
		data, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: mutated}})
		os.WriteFile(overlay, data, 0o644)
		out, err := exec.Command("go", "test", "-overlay", overlay, "-run", "TestDecide$", "-count=1", "./verify").CombinedOutput()
		switch {
		case err == nil:
			fmt.Printf("%-60s  SURVIVED\n", m.rule)
			survived++
		case strings.Contains(string(out), "--- FAIL"):
			fmt.Printf("%-60s  killed by %d rows\n", m.rule, strings.Count(string(out), "    --- FAIL"))
		default:
			fmt.Printf("%-60s  BUILD FAILED\n%s\n", m.rule, out)
			survived++
		}
	}
	fmt.Printf("%d mutants, %d survived\n", len(mutants), survived)
	if survived > 0 {
		os.Exit(1)
	}
}
