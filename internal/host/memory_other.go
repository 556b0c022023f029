//go:build !(linux || darwin)

package host

import "github.com/tetratelabs/wazero/experimental"

// newGuestMemory backs a guest's linear memory with the Go heap where reserving address
// space is not supported here.
func newGuestMemory(_, _ uint64) experimental.LinearMemory { return &heapMemory{} }
