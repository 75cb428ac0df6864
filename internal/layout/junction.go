package layout

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// A directory junction (a mount point reparse point) is what <dir>\current is on Windows: unlike
// a symbolic link it needs no privilege (no Developer Mode), and it is always a directory
// link. Its target must be an absolute path on a local volume, which the file system stores
// twice: as the NT path it follows (the substitute name, \??\C:\...) and as the path tools
// print (the print name, C:\...). This file computes both and the FSCTL_SET_REPARSE_POINT
// buffer from a Windows path given as a string, so that it is tested on any system.

// ioReparseTagMountPoint is IO_REPARSE_TAG_MOUNT_POINT.
const ioReparseTagMountPoint = 0xA0000003

// junctionNames returns the substitute and print names of a junction to the Windows path
// target: a drive path (C:\x, c:/x), or one in the \\?\ form (\\?\C:\x, \\?\UNC\host\share\x),
// or a UNC path (\\host\share\x; Windows itself refuses junctions to remote shares, but says
// so itself). Relative paths, rooted paths without a drive (\x) and drive-relative ones (C:x)
// are refused: a junction's target is resolved from nowhere.
func junctionNames(target string) (substitute, print string, err error) {
	p := strings.ReplaceAll(target, "/", `\`)
	switch {
	case strings.HasPrefix(p, `\\?\UNC\`), strings.HasPrefix(p, `\??\UNC\`):
		p = `\\` + p[len(`\\?\UNC\`):]
	case strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\??\`):
		p = p[len(`\\?\`):]
	}
	switch {
	case isDrivePath(p):
		p = cleanWindows(p[:3], p[3:])
		return `\??\` + p, p, nil
	case strings.HasPrefix(p, `\\`):
		rest := strings.TrimPrefix(p, `\\`)
		host, share, ok := strings.Cut(rest, `\`)
		share, tail, _ := strings.Cut(share, `\`)
		if !ok || host == "" || share == "" {
			return "", "", fmt.Errorf("junction target %q: a UNC path needs a host and a share", target)
		}
		p = cleanWindows(`\\`+host+`\`+share+`\`, tail)
		return `\??\UNC\` + strings.TrimPrefix(p, `\\`), p, nil
	}
	return "", "", fmt.Errorf("junction target %q is not an absolute Windows path", target)
}

// isDrivePath reports whether p starts with a drive letter, a colon and a backslash.
func isDrivePath(p string) bool {
	return len(p) >= 3 && p[1] == ':' && p[2] == '\\' &&
		('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z')
}

// cleanWindows joins root (ending in a backslash) and the cleaned rest: empty, "." and ".."
// elements resolved, no trailing backslash except for a bare root.
func cleanWindows(root, rest string) string {
	var elems []string
	for _, e := range strings.Split(rest, `\`) {
		switch e {
		case "", ".":
		case "..":
			if len(elems) > 0 {
				elems = elems[:len(elems)-1]
			}
		default:
			elems = append(elems, e)
		}
	}
	return root + strings.Join(elems, `\`)
}

// maxReparseData is MAXIMUM_REPARSE_DATA_BUFFER_SIZE: the most a reparse point can hold.
const maxReparseData = 16 * 1024

// junctionReparseData is the REPARSE_DATA_BUFFER that FSCTL_SET_REPARSE_POINT takes to make a
// junction to target:
//
//	ULONG  ReparseTag            IO_REPARSE_TAG_MOUNT_POINT
//	USHORT ReparseDataLength     bytes after this 8-byte header
//	USHORT Reserved
//	USHORT SubstituteNameOffset  in bytes, into PathBuffer
//	USHORT SubstituteNameLength  in bytes, without the terminating NUL
//	USHORT PrintNameOffset
//	USHORT PrintNameLength
//	WCHAR  PathBuffer[]          substitute name, NUL, print name, NUL
func junctionReparseData(target string) ([]byte, error) {
	sub, print, err := junctionNames(target)
	if err != nil {
		return nil, err
	}
	s, p := utf16.Encode([]rune(sub)), utf16.Encode([]rune(print))
	dataLen := 8 + 2*(len(s)+1+len(p)+1)
	if 8+dataLen > maxReparseData {
		return nil, fmt.Errorf("junction target %q is too long", target)
	}
	b := make([]byte, 8+dataLen)
	le := binary.LittleEndian
	le.PutUint32(b[0:], ioReparseTagMountPoint)
	le.PutUint16(b[4:], uint16(dataLen))
	le.PutUint16(b[8:], 0)
	le.PutUint16(b[10:], uint16(2*len(s)))
	le.PutUint16(b[12:], uint16(2*(len(s)+1)))
	le.PutUint16(b[14:], uint16(2*len(p)))
	off := 16
	for _, c := range s {
		le.PutUint16(b[off:], c)
		off += 2
	}
	off += 2 // NUL
	for _, c := range p {
		le.PutUint16(b[off:], c)
		off += 2
	}
	return b, nil
}
