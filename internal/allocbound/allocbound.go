// Package allocbound measures what a parser allocates against an allowance
// proportional to its input, for the fuzz targets' allocation tests: the
// bytes a call allocates, the allowance, and the Go runtime's soft memory
// limit set just above the heap while the inputs are parsed.
package allocbound

import (
	"runtime"
	"runtime/debug"
)

// Bound is a parser's allowance: PerByte times its input's length plus a
// fixed overhead, in bytes.
type Bound struct{ PerByte, Fixed uint64 }

// Of is the allowance for n bytes of input.
func (b Bound) Of(n int) uint64 { return b.PerByte*uint64(n) + b.Fixed }

// AllocatedBy is the bytes f allocates on the heap. TotalAlloc counts every
// allocation, freed or not, so a collection during f hides none.
func AllocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// UnderMemoryLimit runs f with the soft memory limit set just above the
// heap now plus limit, so that the collector runs hard and a parser that
// held on to what it allocated would show in the heap.
func UnderMemoryLimit(limit uint64, f func()) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(ms.HeapInuse + limit)))
	f()
}
