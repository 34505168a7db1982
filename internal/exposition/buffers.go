package exposition

import (
	"bufio"
	"io"

	"github.com/klauspost/compress/gzip"
)

// textChunk is how much text goes to the compressor (or the response)
// in one write: large enough that the writes' own cost is lost in the
// compression's, small enough to keep.
const textChunk = 64 << 10

// textBuffers are what scrapes are written through.
var textBuffers = newFreeList(4, func() *bufio.Writer { return bufio.NewWriterSize(io.Discard, textChunk) })

var gzipWriters = newFreeList(4, func() *gzip.Writer {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return gz
})

// freeList keeps a few values between scrapes. Not a sync.Pool: the
// garbage collector empties those, and at headroom's heap size it ran
// about every other scrape, so each scrape built a new gzip writer (its
// tables and window were a fifth of what a scrape allocated) and made the
// next collection come sooner.
type freeList[T any] struct {
	free  chan T
	build func() T
}

func newFreeList[T any](size int, build func() T) freeList[T] {
	return freeList[T]{free: make(chan T, size), build: build}
}

func (l freeList[T]) get() T {
	select {
	case v := <-l.free:
		return v
	default:
		return l.build()
	}
}

func (l freeList[T]) put(v T) {
	select {
	case l.free <- v:
	default:
	}
}
