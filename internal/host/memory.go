package host

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// A guest's linear memory comes from newGuestMemory: address space reserved outside the Go
// heap where the platform allows it (memory_mmap.go), else a Go slice (heapMemory). The
// types below count the memories alive and release a failed instantiation's.

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
