package layout

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// platformJunction makes <dir>\current a directory junction (see current.go).
var platformJunction = makeJunction

// makeJunction makes link a directory junction to the absolute directory target: an empty
// directory turned into a mount point with FSCTL_SET_REPARSE_POINT, which needs no privilege.
// When the file system cannot hold one (FAT32 and exFAT, most network shares, wine), the
// error wraps errNoLinks and nothing is left at link.
func makeJunction(link, target string) (err error) {
	data, err := junctionReparseData(target)
	if err != nil {
		return err
	}
	if err := os.Mkdir(link, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(link)
		}
	}()
	p, err := windows.UTF16PtrFromString(link)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: link, Err: err}
	}
	defer windows.CloseHandle(h)
	var n uint32
	err = windows.DeviceIoControl(h, windows.FSCTL_SET_REPARSE_POINT, &data[0], uint32(len(data)), nil, 0, &n, nil)
	if err != nil {
		if noReparsePoints(err) {
			return fmt.Errorf("%w (%v)", errNoLinks, err)
		}
		return &os.PathError{Op: "make junction", Path: link, Err: err}
	}
	return nil
}

// noReparsePoints reports whether err says the volume cannot hold reparse points at all.
func noReparsePoints(err error) bool {
	return errors.Is(err, windows.ERROR_NOT_SUPPORTED) || errors.Is(err, windows.ERROR_INVALID_FUNCTION)
}
