package exposition

import (
	"bytes"

	"github.com/klauspost/compress/gzip"
)

// textBuffers are what scrapes are written into.
var textBuffers = newFreeList(4, func() *bytes.Buffer { return &bytes.Buffer{} })

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
