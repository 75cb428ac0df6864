package archive

import (
	"math/bits"
	"sync"
)

// Buffers are pooled and the bytes in flight are bounded: an install extracts some 250 MB
// through a few MiB of buffers that are used again and again, so the heap stays small and
// the garbage collector has little to do (on 2 cores its work is time the inflate does not
// get). A buffer of each size class comes from its own pool.
const (
	minClass = 10        // the smallest pooled buffer, 1 KiB
	bufMax   = 256 << 10 // the largest: a file's bytes are handed over whole up to this, in pieces of it beyond
	classes  = 18 - minClass + 1
)

var bufClasses [classes]sync.Pool

// sizeClass is the class of the smallest pooled buffer that holds n bytes (n <= bufMax).
func sizeClass(n int) int {
	if n <= 1<<minClass {
		return 0
	}
	return bits.Len(uint(n-1)) - minClass
}

// getBuf returns a pooled buffer of n bytes (n <= bufMax); its capacity is its size class.
func getBuf(n int) *[]byte {
	c := sizeClass(n)
	b, _ := bufClasses[c].Get().(*[]byte)
	if b == nil {
		s := make([]byte, 1<<(c+minClass))
		b = &s
	}
	*b = (*b)[:n]
	return b
}

// putBuf returns a buffer from getBuf to its pool.
func putBuf(b *[]byte) {
	bufClasses[sizeClass(cap(*b))].Put(b)
}

// copyBufs are the buffers of streamed copies (a zip entry's inflated bytes to its file).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
