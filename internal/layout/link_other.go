//go:build !windows

package layout

// platformJunction is nil: <dir>/current is a symbolic link, renamed into place (see
// current.go).
var platformJunction func(link, target string) error
