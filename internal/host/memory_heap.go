package host

// heapMemory is a guest's linear memory in the Go heap, grown by copying.
type heapMemory struct{ buf []byte }

// Reallocate implements experimental.LinearMemory.
func (m *heapMemory) Reallocate(size uint64) []byte {
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

// Free implements experimental.LinearMemory.
func (m *heapMemory) Free() { m.buf = nil }
