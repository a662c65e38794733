//go:build !unix

package heifwasm

// newLinearMemory returns a linear memory in a Go slice: this system has no
// mmap to reserve one outside the heap.
func newLinearMemory(max uint64) linearMemory { return &heapMemory{max: max} }
