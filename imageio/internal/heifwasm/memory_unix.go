//go:build unix

package heifwasm

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// newLinearMemory reserves a linear memory of up to max bytes outside the Go
// heap, committing pages as the module grows it: growing never copies and
// never moves it, and Free gives it all back to the system at once. Where
// the reservation fails it falls back to a Go slice.
func newLinearMemory(max uint64) linearMemory {
	if max > math.MaxInt {
		return &heapMemory{max: max}
	}
	reserved, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return &heapMemory{max: max}
	}
	return &mappedMemory{reserved: reserved}
}

// mappedMemory is a reservation whose first committed bytes are readable
// and writable.
type mappedMemory struct {
	reserved  []byte
	committed int
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.reserved)) {
		return nil
	}
	if n := int(size); n > m.committed {
		page := unix.Getpagesize()
		n = min((n+page-1)/page*page, len(m.reserved))
		if err := unix.Mprotect(m.reserved[m.committed:n], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil // the module sees a failed memory.grow
		}
		m.committed = n
	}
	return m.reserved[:size:size]
}

func (m *mappedMemory) Free() {
	if m.reserved != nil {
		unix.Munmap(m.reserved)
		m.reserved, m.committed = nil, 0
	}
}

func (m *mappedMemory) peak() int64 { return int64(m.committed) }

var _ experimental.LinearMemory = (*mappedMemory)(nil)
