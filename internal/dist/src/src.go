// Package src carries gostrap's own module source inside the gostrap binary, so that gostrap can
// rebuild itself for other platforms (issue 15: bundles and fleet mirrors carry gostrap).
//
// source.zip is empty in the repository. A dist build (go run ./internal/dist) generates the
// archive from the checkout and builds from a module copy in which source.zip holds it, so every
// dist-built gostrap embeds the exact source it was built from; a plain 'go build' embeds
// nothing. See internal/dist/dist for why the archive is made at build time, not committed.
package src

import _ "embed"

//go:embed source.zip
var archive []byte

// Archive returns the embedded source archive (a module zip, see dist.Extract), or nil when
// this binary was not built by dist.
func Archive() []byte {
	if len(archive) == 0 {
		return nil
	}
	return archive
}
