package layout

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestJunctionNames(t *testing.T) {
	for _, tc := range []struct{ target, sub, print string }{
		{`C:\Users\Ann\AppData\Local\gostrap\go1.22.3`, `\??\C:\Users\Ann\AppData\Local\gostrap\go1.22.3`, `C:\Users\Ann\AppData\Local\gostrap\go1.22.3`},
		{`c:/Users/Ann Lee/gostrap/go1.22.3`, `\??\c:\Users\Ann Lee\gostrap\go1.22.3`, `c:\Users\Ann Lee\gostrap\go1.22.3`},
		{`D:\go\\go1.22.3\`, `\??\D:\go\go1.22.3`, `D:\go\go1.22.3`},
		{`D:\go\.\x\..\go1.22.3`, `\??\D:\go\go1.22.3`, `D:\go\go1.22.3`},
		{`E:\`, `\??\E:\`, `E:\`},
		{`\\?\C:\very\long\go1.22.3`, `\??\C:\very\long\go1.22.3`, `C:\very\long\go1.22.3`},
		{`\??\C:\go1.22.3`, `\??\C:\go1.22.3`, `C:\go1.22.3`},
		{`\\server\share\tools\go1.22.3`, `\??\UNC\server\share\tools\go1.22.3`, `\\server\share\tools\go1.22.3`},
		{`\\?\UNC\server\share\go1.22.3`, `\??\UNC\server\share\go1.22.3`, `\\server\share\go1.22.3`},
		{`C:\Users\Zoë\日本\go1.22.3`, `\??\C:\Users\Zoë\日本\go1.22.3`, `C:\Users\Zoë\日本\go1.22.3`},
	} {
		sub, print, err := junctionNames(tc.target)
		if err != nil || sub != tc.sub || print != tc.print {
			t.Errorf("junctionNames(%q) = %q, %q, %v; want %q, %q", tc.target, sub, print, err, tc.sub, tc.print)
		}
	}
	for _, bad := range []string{"go1.22.3", `gostrap\go1.22.3`, `\gostrap\go1.22.3`, `C:gostrap`, `C:`, `\\server`, `\\server\`, "/home/ann/go1.22.3", ""} {
		if sub, _, err := junctionNames(bad); err == nil {
			t.Errorf("junctionNames(%q) = %q, want an error", bad, sub)
		}
	}
}

func TestJunctionReparseData(t *testing.T) {
	b, err := junctionReparseData(`C:\go`)
	if err != nil {
		t.Fatal(err)
	}
	// The layout FSCTL_SET_REPARSE_POINT takes, byte by byte: tag, data length (8 + 2*(9+1)
	// + 2*(5+1) = 40), reserved, substitute name at 0 (18 bytes), print name at 20 (10 bytes),
	// then the two names, each ended by a NUL.
	want := "030000a0" + "2800" + "0000" + "0000" + "1200" + "1400" + "0a00" +
		hex.EncodeToString(utf16le(`\??\C:\go`)) + "0000" + hex.EncodeToString(utf16le(`C:\go`)) + "0000"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("reparse data\n got %s\nwant %s", got, want)
	}
	for _, target := range []string{`C:\Users\Zoë\gostrap\go1.22.3`, `\\server\share\go`, `C:\` + strings.Repeat(`abcdefgh\`, 200) + "go"} {
		b, err := junctionReparseData(target)
		if err != nil {
			t.Fatal(err)
		}
		_, print, _ := junctionNames(target)
		if got, err := parseJunction(b); err != nil || got != print {
			t.Errorf("parseJunction(junctionReparseData(%.40q)) = %.40q, %v", target, got, err)
		}
	}
	if _, err := junctionReparseData(`C:\` + strings.Repeat("x", 9000)); err == nil {
		t.Error("a target longer than a reparse point holds: no error")
	}
	if _, err := parseJunction(bytes.Repeat([]byte{0}, 20)); err == nil {
		t.Error("parseJunction of zeros: no error")
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// parseJunction returns the print name a junction's reparse data holds: the inverse of
// junctionReparseData, to test it.
func parseJunction(b []byte) (string, error) {
	le := binary.LittleEndian
	if len(b) < 16 || le.Uint32(b) != ioReparseTagMountPoint {
		return "", errors.New("not a junction's reparse data")
	}
	if int(le.Uint16(b[4:]))+8 > len(b) {
		return "", errors.New("junction reparse data is truncated")
	}
	buf := b[16:]
	off, n := int(le.Uint16(b[12:])), int(le.Uint16(b[14:]))
	if off+n > len(buf) || off%2 != 0 || n%2 != 0 {
		return "", errors.New("junction print name out of bounds")
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = le.Uint16(buf[off+2*i:])
	}
	return string(utf16.Decode(u)), nil
}
