package host

import (
	"context"
	"fmt"
)

// LoadBytes is Load for a module whose bytes the caller has already read, so that what is
// loaded is exactly what the caller fingerprinted (a file being replaced may change between
// two reads). path names the module in errors and logs.
func (r *Runtime) LoadBytes(ctx context.Context, path string, wasm []byte, opts ModuleOptions) (*Module, error) {
	m, err := r.load(ctx, path, wasm, opts)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", path, err)
	}
	return m, nil
}

// Warm starts instances until n are idle in the pool (at most the pool's size), so that the
// first calls after a live swap do not pay for instantiation. A failing initializer fails
// Warm.
func (m *Module) Warm(ctx context.Context, n int) error {
	n = min(n, cap(m.slots))
	held := make([]*instance, 0, n)
	defer func() {
		for _, inst := range held {
			m.release(inst)
		}
	}()
	for range n {
		inst, err := m.acquire(ctx)
		if err != nil {
			return fmt.Errorf("warm %s: %w", m.path, err)
		}
		held = append(held, inst)
	}
	return nil
}
