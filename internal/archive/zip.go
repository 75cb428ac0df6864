package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Zip writes the entries of zr into x with a pool of writers, each inflating and
// hashing its own entries: with a zip every entry can be read independently, so the work
// spreads across cores. Every name is checked before any file is written. For a zip still
// arriving, ready (nil for a whole zip) blocks before an entry is opened until its bytes are
// all there; false says they never will be.
func (x *Extractor) Zip(zr *zip.Reader, ready func(*zip.File) bool) error {
	zr.RegisterDecompressor(zip.Deflate, newInflater)
	type entry struct {
		f   *zip.File
		rel string
	}
	var files []entry
	for _, f := range zr.File {
		mode := f.Mode()
		isDir := strings.HasSuffix(f.Name, "/")
		switch {
		case mode&fs.ModeSymlink != 0:
			return &UnsafeError{f.Name, "symbolic link"}
		case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			return &UnsafeError{f.Name, "device file"}
		case mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return &UnsafeError{f.Name, "special file"}
		case isDir:
			if f.UncompressedSize64 != 0 {
				return &UnsafeError{f.Name, "directory with contents"}
			}
			if err := x.mkdir(f.Name); err != nil {
				return err
			}
			continue
		}
		rel, err := x.name(f.Name, false)
		if err != nil {
			return err
		}
		if f.UncompressedSize64 > uint64(x.opts.Limits.FileBytes) {
			return &UnsafeError{f.Name, fmt.Sprintf("declared size %d over the %d-byte limit", f.UncompressedSize64, x.opts.Limits.FileBytes)}
		}
		if err := x.claim(f.Name, rel, int64(f.UncompressedSize64), true); err != nil {
			return err
		}
		files = append(files, entry{f, rel})
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		next int
	)
	take := func() (entry, bool) {
		mu.Lock()
		defer mu.Unlock()
		if ferr == nil && x.ctx.Err() != nil {
			ferr = context.Cause(x.ctx)
		}
		if ferr != nil || next >= len(files) {
			return entry{}, false
		}
		next++
		return files[next-1], true
	}
	for range workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bp := copyBufs.Get().(*[]byte)
			defer copyBufs.Put(bp)
			buf := *bp
			for {
				e, ok := take()
				if !ok {
					return
				}
				err := func() error {
					if ready != nil && !ready(e.f) {
						return ErrAborted
					}
					rc, err := e.f.Open()
					if err != nil {
						return &MalformedError{fmt.Errorf("%s: %w", e.f.Name, err)}
					}
					defer rc.Close()
					return x.write(e.f.Name, e.rel, int64(e.f.UncompressedSize64), x.mode(e.rel, e.f.Mode()), rc, buf)
				}()
				if err != nil {
					mu.Lock()
					if ferr == nil {
						ferr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return ferr
}

// inflater is a pooled deflate reader for zip entries: a toolchain zip has some 12,000
// entries, and a fresh reader for each (its 32 KiB window, Huffman tables and input buffer)
// made 195 MB of garbage per install, a garbage collection every few milliseconds.
type inflater struct {
	br     *bufio.Reader
	fr     io.ReadCloser // a flate.Resetter
	closed bool
}

var inflaters sync.Pool

// inflaterInput is the read size from the zip file: entries are read with ReadAt, one system
// call per fill.
const inflaterInput = 32 << 10

func newInflater(r io.Reader) io.ReadCloser {
	z, _ := inflaters.Get().(*inflater)
	if z == nil {
		z = &inflater{br: bufio.NewReaderSize(r, inflaterInput)}
		z.fr = flate.NewReader(z.br)
		return z
	}
	z.br.Reset(r)
	z.fr.(flate.Resetter).Reset(z.br, nil)
	z.closed = false
	return z
}

func (z *inflater) Read(p []byte) (int, error) { return z.fr.Read(p) }

// Close returns the reader to the pool, once.
func (z *inflater) Close() error {
	if z.closed {
		return nil
	}
	z.closed = true
	err := z.fr.Close()
	z.br.Reset(nil)
	inflaters.Put(z)
	return err
}

// ErrAborted is what an extraction returns when ready said an entry's bytes will never arrive
// (the download failed): the download's error is the one to report.
var ErrAborted = errors.New("download failed")

// ZipLayout reads a zip's central directory straight from the end of the file, for where each
// entry's bytes end: where the next entry's local header starts, or the directory for the last.
// archive/zip does not export header offsets, and they are what says when an entry's bytes
// have all arrived. Zip64 archives are not handled (none is near 4 GB here).
func ZipLayout(ra io.ReaderAt, size int64) (ends map[string]int64, cdStart int64, err error) {
	const eocdLen = 22
	n := min(size, eocdLen+65535)
	if n < eocdLen {
		return nil, 0, errors.New("too small for a zip")
	}
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, size-n); err != nil {
		return nil, 0, err
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocdLen {
		return nil, 0, errors.New("no end of central directory")
	}
	e := buf[i:]
	count := int(binary.LittleEndian.Uint16(e[10:]))
	cdSize := int64(binary.LittleEndian.Uint32(e[12:]))
	cdStart = int64(binary.LittleEndian.Uint32(e[16:]))
	if count == 0xffff || cdStart == 0xffffffff || cdStart+cdSize > size {
		return nil, 0, errors.New("zip64 or inconsistent end record")
	}
	cd := make([]byte, cdSize)
	if _, err := ra.ReadAt(cd, cdStart); err != nil {
		return nil, 0, err
	}
	offsets := make(map[string]int64, count)
	for len(cd) >= 46 {
		if string(cd[:4]) != "PK\x01\x02" {
			return nil, 0, errors.New("bad central directory record")
		}
		nameLen := int(binary.LittleEndian.Uint16(cd[28:]))
		extraLen := int(binary.LittleEndian.Uint16(cd[30:]))
		commentLen := int(binary.LittleEndian.Uint16(cd[32:]))
		off := int64(binary.LittleEndian.Uint32(cd[42:]))
		if 46+nameLen+extraLen+commentLen > len(cd) || off == 0xffffffff || off >= cdStart {
			return nil, 0, errors.New("bad central directory record")
		}
		offsets[string(cd[46:46+nameLen])] = off
		cd = cd[46+nameLen+extraLen+commentLen:]
	}
	if len(offsets) != count {
		return nil, 0, errors.New("central directory count mismatch")
	}
	starts := slices.Sorted(maps.Values(offsets))
	ends = make(map[string]int64, count)
	for name, o := range offsets {
		ends[name] = cdStart
		if i, _ := slices.BinarySearch(starts, o); i+1 < len(starts) {
			ends[name] = starts[i+1]
		}
	}
	return ends, cdStart, nil
}
