package host

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Modules loaded from the same bytes with the same two settings compiled code depends on —
// deadline interrupts and the memory cap — share one compilation while more than one is
// loaded: one wazero runtime, holding the compiled module, WASI and the host functions, from
// which each Module starts instances of its own. Every load from the compilation cache
// still decodes and validates the whole module in wazero (a few tenths of a CPU-second for
// the greeter under the race detector, and over a second in a swap under load), and a live
// swap loads the same bytes more than once at the same time: the candidate, and the
// conformance suite's copy beside it.
//
// Sharing isolates nothing less: instances are anonymous, so no module can import another's
// exports; every setting a Module does not share with the others (its grants, mounts, log
// caps, publisher and services) reaches the host functions through the call state of its own
// instances, never through the runtime.

// codeKey names one compilation: the digest of the bytes with the interrupt bit
// (compileKey), and the memory cap.
type codeKey struct {
	sum   [sha256.Size]byte
	pages uint32
}

func codeKeyOf(sum [sha256.Size]byte, opts ModuleOptions) codeKey {
	return codeKey{sum: compileKey(sum, opts), pages: opts.MemoryLimitPages}
}

// codeTable holds the compilations in use, by key, each counted once per Module loaded
// from it. The zero value is ready.
type codeTable struct {
	mu    sync.Mutex
	byKey map[codeKey]*compiled
}

// acquire returns the compilation under key and counts one more user of it; nil when none is
// in use.
func (t *codeTable) acquire(key codeKey) *compiled {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byKey[key]
	if c != nil {
		c.refs++
	}
	return c
}

// add makes c, just compiled, the compilation under key, counted once, and defines WASI and
// the host functions in its runtime. When another load added the same compilation
// meanwhile, c is released and that one is returned instead.
func (t *codeTable) add(ctx context.Context, key codeKey, c *compiled) (*compiled, error) {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, c.rt); err != nil {
		_ = c.rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, c.rt); err != nil {
		_ = c.rt.Close(ctx)
		return nil, fmt.Errorf("instantiate host functions: %w", err)
	}
	t.mu.Lock()
	if other := t.byKey[key]; other != nil {
		other.refs++
		t.mu.Unlock()
		_ = c.rt.Close(ctx)
		return other, nil
	}
	if t.byKey == nil {
		t.byKey = map[codeKey]*compiled{}
	}
	c.key, c.refs = key, 1
	t.byKey[key] = c
	t.mu.Unlock()
	return c, nil
}

// release counts one user of c less, and closes its runtime when it was the last.
func (t *codeTable) release(ctx context.Context, c *compiled) error {
	t.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && t.byKey[c.key] == c {
		delete(t.byKey, c.key)
	}
	t.mu.Unlock()
	if !last {
		return nil
	}
	if err := c.rt.Close(ctx); err != nil {
		return fmt.Errorf("close the module's runtime: %w", err)
	}
	return nil
}

// size returns how many compilations are in use, for tests.
func (t *codeTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}
