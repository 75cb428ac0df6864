package layout

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isEphemeral reports whether Windows refused an operation because another program holds the
// file: worth waiting out.
func isEphemeral(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}
