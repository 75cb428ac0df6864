package gostrap

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
)

// extractZip writes the entries of zr into x with a pool of writers, each inflating and
// hashing its own entries: with a zip every entry can be read independently, so the work
// spreads across cores. Every name is checked before any file is written.
func extractZip(zr *zip.Reader, x *extractor) error {
	zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
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
			return &UnsafeArchiveError{f.Name, "symbolic link"}
		case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			return &UnsafeArchiveError{f.Name, "device file"}
		case mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return &UnsafeArchiveError{f.Name, "special file"}
		case isDir:
			if f.UncompressedSize64 != 0 {
				return &UnsafeArchiveError{f.Name, "directory with contents"}
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
		if rel == "." {
			return &UnsafeArchiveError{f.Name, "file in place of the root directory"}
		}
		if f.UncompressedSize64 > uint64(maxFileBytes) {
			return &UnsafeArchiveError{f.Name, fmt.Sprintf("declared size %d over the %d-byte limit", f.UncompressedSize64, maxFileBytes)}
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
			buf := make([]byte, 64<<10)
			for {
				e, ok := take()
				if !ok {
					return
				}
				err := func() error {
					rc, err := e.f.Open()
					if err != nil {
						return &MalformedArchiveError{fmt.Errorf("%s: %w", e.f.Name, err)}
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
