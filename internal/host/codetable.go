package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tetratelabs/wazero"
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

// Compilations holds compiled modules for every Runtime given it (Options.Compilations): the
// runtimes of a process share their compilations as the modules of one Runtime do, and up
// to keepIdle compilations no module uses any more are kept for the next load of the same
// bytes, the one released longest ago going first. A kept compilation costs its memory (the
// machine code and wazero's decoded module: tens of MB for a Go module) and saves the next
// load the decoding, validation and cache read. It also holds the compilation caches those
// runtimes compile through, one per folder: a compilation's code belongs to the cache it was
// compiled through, which must outlive it. A process that starts many runtimes over the
// same modules, as a test binary does, shares one.
type Compilations struct {
	table  codeTable
	mu     sync.Mutex
	caches map[string]wazero.CompilationCache
}

// NewCompilations returns an empty Compilations that keeps up to keepIdle compilations no
// module uses. Close it once every Runtime given it is closed.
func NewCompilations(keepIdle int) *Compilations {
	return &Compilations{table: codeTable{keepIdle: keepIdle}}
}

// cache returns the compilation cache in dir ("" for one in memory), opened on first use.
func (c *Compilations) cache(dir string) (wazero.CompilationCache, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cache, ok := c.caches[dir]; ok {
		return cache, nil
	}
	cache, err := newCompilationCache(dir)
	if err != nil {
		return nil, err
	}
	if c.caches == nil {
		c.caches = map[string]wazero.CompilationCache{}
	}
	c.caches[dir] = cache
	return cache, nil
}

// Held returns how many compilations c holds: in use by a module, or kept.
func (c *Compilations) Held() int {
	return c.table.size()
}

// Close closes the compilations kept idle, then the compilation caches.
func (c *Compilations) Close(ctx context.Context) error {
	errs := []error{c.table.dropIdle(ctx)}
	c.mu.Lock()
	caches := c.caches
	c.caches = nil
	c.mu.Unlock()
	for _, cache := range caches {
		errs = append(errs, cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// newCompilationCache opens the compilation cache in dir, or one in memory when dir is "".
func newCompilationCache(dir string) (wazero.CompilationCache, error) {
	if dir == "" {
		return wazero.NewCompilationCache(), nil
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache in %s: %w", dir, err)
	}
	return cache, nil
}

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
// from it, and up to keepIdle compilations no module uses any more. The zero value is
// ready, and keeps none idle.
type codeTable struct {
	mu    sync.Mutex
	byKey map[codeKey]*compiled
	// keepIdle bounds idle; idle holds the compilations whose last user was released, the
	// one released longest ago first.
	keepIdle int
	idle     []*compiled
}

// acquire returns the compilation under key and counts one more user of it; nil when none is
// in use or kept.
func (t *codeTable) acquire(key codeKey) *compiled {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byKey[key]
	if c != nil {
		t.take(c)
	}
	return c
}

// take counts one more user of c, which is in the table, and takes it off the idle list when
// it was there. t.mu is held.
func (t *codeTable) take(c *compiled) {
	if c.refs == 0 {
		t.idle = slices.DeleteFunc(t.idle, func(o *compiled) bool { return o == c })
	}
	c.refs++
}

// holds reports whether a compilation under key is in use or kept.
func (t *codeTable) holds(key codeKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[key] != nil
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
		t.take(other)
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

// release counts one user of c less. When it was the last, c is kept idle if the table keeps
// any, and the compilation idle longest goes instead when that makes one too many; what goes
// has its runtime closed.
func (t *codeTable) release(ctx context.Context, c *compiled) error {
	t.mu.Lock()
	c.refs--
	if c.refs > 0 {
		t.mu.Unlock()
		return nil
	}
	gone := c
	if t.keepIdle > 0 && t.byKey[c.key] == c {
		t.idle = append(t.idle, c)
		gone = nil
		if len(t.idle) > t.keepIdle {
			gone = t.idle[0]
			t.idle = slices.Delete(t.idle, 0, 1)
		}
	}
	if gone != nil && t.byKey[gone.key] == gone {
		delete(t.byKey, gone.key)
	}
	t.mu.Unlock()
	if gone == nil {
		return nil
	}
	return closeCompiled(ctx, gone)
}

// dropIdle closes the compilations kept idle.
func (t *codeTable) dropIdle(ctx context.Context) error {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	for _, c := range idle {
		delete(t.byKey, c.key)
	}
	t.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, closeCompiled(ctx, c))
	}
	return errors.Join(errs...)
}

func closeCompiled(ctx context.Context, c *compiled) error {
	if err := c.rt.Close(ctx); err != nil {
		return fmt.Errorf("close the module's runtime: %w", err)
	}
	return nil
}

// size returns how many compilations are in use or kept, for tests.
func (t *codeTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}
