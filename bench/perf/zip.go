package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/internal/mirrortest"
	"github.com/gostrap/gostrap/mirror"
)

// prepareZipTree makes, once, a module proxy tree as `gostrap mirror sync` writes it, holding
// the toolchain module zip of the same GOROOT tree (made with the release mapping by
// internal/mirrortest) and the records of a checksum database made for the bench. It returns
// the tree and the database's verifier key, which installs from the tree need as GOSUMDB.
func prepareZipTree(goroot, w string) (tree, vkey string, err error) {
	tree = filepath.Join(w, "proxy-tree")
	keyFile := filepath.Join(w, "proxy-tree.vkey")
	if k, err := os.ReadFile(keyFile); err == nil {
		if _, err := os.Stat(tree); err == nil {
			return tree, strings.TrimSpace(string(k)), nil
		}
	}
	os.RemoveAll(tree)
	files := map[string]mirrortest.File{}
	err = filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(goroot, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "VERSION" {
			data = []byte(version + "\ntime 2026-08-28T16:20:06Z\n")
		}
		st, _ := d.Info()
		files[rel] = mirrortest.File{Data: data, Mode: st.Mode().Perm()}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	host := mirror.Host()
	zip, err := mirrortest.ModuleZip(host.ToolchainVersion(version), files)
	if err != nil {
		return "", "", err
	}
	files = nil
	f, err := mirrortest.New(mirrortest.Options{Versions: []string{version}, Platforms: []mirror.Platform{host}})
	if err != nil {
		return "", "", err
	}
	f.SetModZip(host.ToolchainVersion(version), zip)
	srv := httptest.NewServer(f.ProxyHandler())
	defer srv.Close()
	tmp := filepath.Join(w, "proxy-sync")
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	in, err := gostrap.New(gostrap.Options{Dir: filepath.Join(tmp, "go"), CacheDir: filepath.Join(tmp, "cache"),
		Official: []string{"off"}, Mirrors: []string{"off"}, GOPROXY: srv.URL, GOSUMDB: f.GOSUMDB(""),
		Sources: []gostrap.Kind{gostrap.KindProxy}, Log: io.Discard})
	if err != nil {
		return "", "", err
	}
	rep, err := in.SyncTree(context.Background(), gostrap.TreeOptions{Out: tree, Specs: []string{version},
		Platforms: []mirror.Platform{host}, Zips: true})
	if err != nil {
		return "", "", fmt.Errorf("mirror sync: %v (missing %q)", err, rep.Missing)
	}
	if err := os.WriteFile(keyFile, []byte(f.VKey+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return tree, f.VKey, nil
}
