package archive

import (
	"io/fs"
	"runtime"
)

// Windows has no permission bits: Go reports a file as 0666, or 0444 when read-only, and a
// directory as 0777, whatever mode the extraction asked for. There an extracted tree is right
// when its files are writable plain files; elsewhere files are 0644 or 0755, directories 0755.

func fileModeOK(m fs.FileMode) bool {
	if runtime.GOOS == "windows" {
		return m.Perm() == 0o666
	}
	return m.Perm() == 0o644 || m.Perm() == 0o755
}

func dirModeOK(m fs.FileMode) bool {
	if runtime.GOOS == "windows" {
		return m.Perm() == 0o777
	}
	return m.Perm() == 0o755
}

// absoluteReason is why an entry named by an absolute path of this system is refused: on
// Windows the path (C:/...) has a colon, which the extractor refuses first.
var absoluteReason = map[bool]string{false: "absolute path", true: "colon"}[runtime.GOOS == "windows"]
