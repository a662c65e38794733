package heifwasm

import "github.com/tetratelabs/wazero/experimental"

// linearMemory backs one module instance's linear memory and remembers the
// most it held.
type linearMemory interface {
	experimental.LinearMemory
	peak() int64
}

// heapMemory is a linear memory in a Go slice, grown by copying: what
// wazero does by default, for where no reservation can be had.
type heapMemory struct {
	buf []byte
	max uint64
	top int64
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size > uint64(cap(m.buf)) {
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, int(size)-cap(m.buf))...)
	}
	m.buf = m.buf[:size]
	m.top = max(m.top, int64(size))
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }

func (m *heapMemory) peak() int64 { return m.top }
