//go:build linux || darwin

package host

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// reservedMemory is a guest's linear memory in address space reserved outside the Go heap
// up to the memory's maximum: growing it commits pages in place, with no copy, and pages the
// guest never touches cost nothing.
type reservedMemory struct {
	region    []byte // the whole reservation
	committed uint64 // bytes readable and writable from its start
}

func newGuestMemory(capacity, maximum uint64) experimental.LinearMemory {
	page := uint64(syscall.Getpagesize())
	size := (maximum + page - 1) &^ (page - 1)
	if size == 0 {
		return &heapMemory{}
	}
	region, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return &heapMemory{}
	}
	return &reservedMemory{region: region}
}

// Reallocate implements experimental.LinearMemory.
func (m *reservedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.region)) {
		return nil
	}
	if size > m.committed {
		if err := syscall.Mprotect(m.region[m.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.region[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *reservedMemory) Free() {
	if m.region != nil {
		_ = syscall.Munmap(m.region)
		m.region = nil
	}
}
