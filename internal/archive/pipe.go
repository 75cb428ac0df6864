package archive

import (
	"io"
	"sync"
)

// Pipe is io.Pipe with a buffer: the download hands its bytes over and goes back to the
// network (or the cache file) while the extractor inflates what came before. With io.Pipe
// every handover waits for the reader; here the writer runs up to bufPipeChunks chunks ahead.
type Pipe struct {
	ch   chan chunk
	done chan struct{} // closed when the reader gives up

	mu   sync.Mutex
	werr error  // the writer's close error (io.EOF for a clean end)
	rerr error  // the reader's close error
	cur  []byte // unread part of buf
	buf  *[]byte
}

const (
	bufPipeChunks = 8
	bufPipeChunk  = 128 << 10
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, bufPipeChunk); return &b }}

// chunk is a pooled buffer and how much of it holds data.
type chunk struct {
	buf *[]byte
	n   int
}

func NewPipe() *Pipe {
	return &Pipe{ch: make(chan chunk, bufPipeChunks), done: make(chan struct{})}
}

// Write copies p into pooled chunks and queues them.
func (p *Pipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		bp := chunkPool.Get().(*[]byte)
		k := copy(*bp, b)
		select {
		case p.ch <- chunk{bp, k}:
		case <-p.done:
			p.mu.Lock()
			err := p.rerr
			p.mu.Unlock()
			return n, err
		}
		n += k
		b = b[k:]
	}
	return n, nil
}

// CloseWrite ends the stream; the reader sees err (io.EOF when nil) after the queued bytes.
func (p *Pipe) CloseWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	p.werr = err
	p.mu.Unlock()
	close(p.ch)
}

// Read returns queued bytes, then the writer's close error.
func (p *Pipe) Read(b []byte) (int, error) {
	if len(p.cur) == 0 {
		c, ok := <-p.ch
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			return 0, p.werr
		}
		p.buf, p.cur = c.buf, (*c.buf)[:c.n]
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	if len(p.cur) == 0 {
		chunkPool.Put(p.buf)
		p.buf = nil
	}
	return n, nil
}

// CloseRead stops the writer: its next Write fails with err.
func (p *Pipe) CloseRead(err error) {
	p.mu.Lock()
	if p.rerr == nil {
		p.rerr = err
		close(p.done)
	}
	p.mu.Unlock()
}
