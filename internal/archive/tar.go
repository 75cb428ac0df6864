package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// writeJob is one file for the writer pool: its bytes whole (data), or, for a file larger than
// a chunk, a channel of its chunks in order, closed after the last.
type writeJob struct {
	raw, rel string
	perm     fs.FileMode
	size     int64
	data     *[]byte
	chunks   chan *[]byte
}

// TarGz reads a gzip-compressed tar stream from r into x. One goroutine decompresses and
// parses; a pool of writers creates, writes and hashes the files, so that the decompressing
// goroutine, the one that sets the pace, does nothing else.
// Decompression is the longest single task of an install, so it uses klauspost/compress's
// inflate: 0.62-0.75x the time of compress/gzip on a Go release archive, measured here.
// Reading stops at the end of the tar stream: the caller drains r.
func (x *Extractor) TarGz(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return &MalformedError{err}
	}
	zr.Multistream(false)
	if err := x.tar(zr); err != nil {
		return err
	}
	// Read to the end of the gzip member so its CRC and length are checked.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return &MalformedError{err}
	}
	return nil
}

func (x *Extractor) tar(r io.Reader) (err error) {
	tr := tar.NewReader(r)
	p := newWriterPool(x)
	defer func() {
		if perr := p.wait(); err == nil {
			err = perr
		}
	}()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &MalformedError{err}
		}
		if err := p.failed(); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := x.mkdir(hdr.Name); err != nil {
				return err
			}
		case tar.TypeReg:
			rel, err := x.name(hdr.Name, false)
			if err != nil {
				return err
			}
			if err := x.claim(hdr.Name, rel, hdr.Size, true); err != nil {
				return err
			}
			// Permission bits come from x.mode: setuid, setgid and sticky bits are dropped.
			j := writeJob{raw: hdr.Name, rel: rel, perm: x.mode(rel, hdr.FileInfo().Mode()), size: hdr.Size}
			if err := p.send(j, tr); err != nil {
				return err
			}
		default:
			return &UnsafeError{hdr.Name, describeTarType(hdr.Typeflag)}
		}
	}
}

func describeTarType(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device file"
	case tar.TypeFifo:
		return "named pipe"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("entry of type %q", t)
}

// writerPool writes files concurrently. The decompressing goroutine reads each file into
// pooled buffers, a small one whole, a larger one in chunks, and runs ahead while up to
// poolBytes of them wait to be written, so that a slow file creation does not stall the
// inflate, and memory stays bounded. The first error stops it.
type writerPool struct {
	x    *Extractor
	jobs chan writeJob
	wg   sync.WaitGroup
	stop func() bool // unregisters the wake-up on cancellation

	mu       sync.Mutex
	err      error
	room     *sync.Cond
	inflight int64 // capacity of the buffers handed over and not yet written
}

// poolBytes bounds the bytes read ahead of the writers. Measured on tmpfs, where the writers
// are fastest, 2 MiB keeps the inflate as busy as 8 MiB did; on a slow disk the page cache,
// not this queue, absorbs the writes.
const poolBytes = 2 << 20

func newWriterPool(x *Extractor) *writerPool {
	p := &writerPool{x: x, jobs: make(chan writeJob, 4096)}
	p.room = sync.NewCond(&p.mu)
	// A wait for room ends when the extraction is canceled.
	p.stop = context.AfterFunc(x.ctx, func() { p.fail(context.Cause(x.ctx)) })
	for range workers() {
		p.wg.Add(1)
		go p.run()
	}
	return p
}

func (p *writerPool) run() {
	defer p.wg.Done()
	for j := range p.jobs {
		var err error
		switch {
		case j.chunks != nil:
			err = p.writeChunks(j)
		case p.failed() == nil:
			err = p.x.writeData(j.raw, j.rel, j.perm, *j.data)
			p.release(j.data)
		default:
			p.release(j.data)
		}
		if err != nil {
			p.fail(err)
		}
	}
}

// send reads the file j from r and queues it for a writer: whole when it fits in a chunk, as
// a stream of chunks otherwise.
func (p *writerPool) send(j writeJob, r io.Reader) error {
	if j.size <= bufMax {
		b, err := p.read(r, int(j.size), j.raw)
		if err != nil {
			return err
		}
		j.data = b
		p.jobs <- j
		return nil
	}
	j.chunks = make(chan *[]byte, poolBytes/bufMax+1) // never full: its bytes are counted in inflight
	p.jobs <- j
	defer close(j.chunks)
	for left := j.size; left > 0; {
		if err := p.x.ctx.Err(); err != nil {
			return context.Cause(p.x.ctx)
		}
		b, err := p.read(r, int(min(left, bufMax)), j.raw)
		if err != nil {
			return err
		}
		j.chunks <- b
		left -= int64(len(*b))
	}
	return nil
}

// read waits for room, then reads n bytes of the entry raw into a pooled buffer.
func (p *writerPool) read(r io.Reader, n int, raw string) (*[]byte, error) {
	need := int64(1) << (sizeClass(n) + minClass)
	p.mu.Lock()
	for p.inflight > 0 && p.inflight+need > poolBytes && p.err == nil {
		p.room.Wait()
	}
	if err := p.err; err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.inflight += need
	p.mu.Unlock()
	b := getBuf(n)
	if _, err := io.ReadFull(r, *b); err != nil {
		p.release(b)
		return nil, &MalformedError{fmt.Errorf("%s: %w", raw, err)}
	}
	return b, nil
}

// release returns a written buffer to its pool and its room to the reader.
func (p *writerPool) release(b *[]byte) {
	p.mu.Lock()
	p.inflight -= int64(cap(*b))
	p.mu.Unlock()
	putBuf(b)
	p.room.Signal()
}

// writeChunks writes a streamed file, hashing it on the way. Its chunks are drained whatever
// happens, so that the reader never waits for room that will not come.
func (p *writerPool) writeChunks(j writeJob) (err error) {
	defer func() {
		for b := range j.chunks {
			p.release(b)
		}
	}()
	if err := p.failed(); err != nil {
		return nil // reported already
	}
	f, dst, err := p.x.create(j.raw, j.rel, j.perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = p.x.fileErr(dst, cerr)
		}
	}()
	h := sha256.New()
	var n int64
	for b := range j.chunks {
		if _, err := f.Write(*b); err != nil {
			p.release(b)
			return p.x.fileErr(dst, err)
		}
		h.Write(*b)
		n += int64(len(*b))
		p.release(b)
	}
	if n != j.size {
		// The reader stopped short, and says why.
		return &UnsafeError{j.raw, fmt.Sprintf("holds %d bytes, declared %d", n, j.size)}
	}
	return p.x.written(j.raw, j.rel, h.Sum(nil))
}

func (p *writerPool) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.room.Broadcast()
}

func (p *writerPool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// wait closes the pool and returns its first error.
func (p *writerPool) wait() error {
	close(p.jobs)
	p.wg.Wait()
	p.stop()
	return p.failed()
}
