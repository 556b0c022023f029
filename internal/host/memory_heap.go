package host

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// countedMemory is a guest memory the Runtime counts while it lives, released at most once:
// by wazero when the instance closes, or by the host when the instantiation failed (wazero
// does not release the memory of an instance whose data or start function failed).
type countedMemory struct {
	experimental.LinearMemory
	live  *atomic.Int64
	freed bool
}

// Free implements experimental.LinearMemory.
func (m *countedMemory) Free() {
	if m.freed {
		return
	}
	m.freed = true
	m.live.Add(-1)
	m.LinearMemory.Free()
}

// memoryRecorder hands wazero the memory of one instantiation and keeps it, so that a failed
// instantiation's memory can be released.
type memoryRecorder struct {
	live *atomic.Int64
	mem  *countedMemory
}

// Allocate implements experimental.MemoryAllocator.
func (r *memoryRecorder) Allocate(capacity, maximum uint64) experimental.LinearMemory {
	r.live.Add(1)
	r.mem = &countedMemory{LinearMemory: newGuestMemory(capacity, maximum), live: r.live}
	return r.mem
}

// release frees the recorded memory, if any and not freed yet.
func (r *memoryRecorder) release() {
	if r.mem != nil {
		r.mem.Free()
	}
}

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
