package archive

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// ZipLayout says where each entry's bytes end as archive/zip sees the entries: after the entry's
// data, at the next entry's local header (30 bytes or more before its data), or at the directory.
func TestZipLayout(t *testing.T) {
	mv := mirrortest.Host.ToolchainVersion("go1.22.3")
	data, err := mirrortest.ModuleZip(mv, mirrortest.Tree("go1.22.3", mirrortest.Host, make([]byte, 64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	ends, cdStart, err := ZipLayout(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != len(zr.File) {
		t.Fatalf("%d ends for %d entries", len(ends), len(zr.File))
	}
	for i, f := range zr.File {
		do, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		limit := cdStart
		if i+1 < len(zr.File) {
			next, _ := zr.File[i+1].DataOffset()
			limit = next - 30
		}
		end := ends[f.Name]
		if end < do+int64(f.CompressedSize64) || end > limit || i+1 == len(zr.File) && end != cdStart {
			t.Fatalf("%s: data %d+%d, said to end at %d, next limit %d", f.Name, do, f.CompressedSize64, end, limit)
		}
	}
	for _, bad := range [][]byte{data[:len(data)-1], data[:100], bytes.Repeat([]byte("PK\x05\x06"), 10)} {
		if _, _, err := ZipLayout(bytes.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("a damaged zip of %d bytes was read", len(bad))
		}
	}
}
