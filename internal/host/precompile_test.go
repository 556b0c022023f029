package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// job returns the precompilation Precompile started for path under opts, finished.
func job(t *testing.T, r *Runtime, path string, opts ModuleOptions) *preJob {
	t.Helper()
	opts = opts.withDefaults()
	r.pre.mu.Lock()
	j := r.pre.jobs[preKey{path: path, interrupt: opts.InterruptOnDeadline, pages: opts.MemoryLimitPages}]
	r.pre.mu.Unlock()
	require.NotNil(t, j)
	<-j.done
	return j
}

// A load of a precompiled file takes the compiled code (the very runtime the background
// compilation made) and leaves nothing for DropPrecompiled.
func TestLoadTakesPrecompiledCode(t *testing.T) {
	ctx := context.Background()
	r := newOwnRuntime(t, nil)
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}
	r.Precompile(ctx, testguestWasm, opts)
	r.Precompile(ctx, testguestWasm, opts) // a second request for the same load is one job
	j := job(t, r, testguestWasm, opts)
	require.NoError(t, j.err)

	m, err := r.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	defer m.Close(ctx)
	assert.Same(t, j.c.rt, m.code.rt, "the load took the precompiled runtime")
	_, err = m.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.NoError(t, err)
	r.pre.mu.Lock()
	assert.Empty(t, r.pre.jobs)
	r.pre.mu.Unlock()
	r.DropPrecompiled(ctx)
}

// Precompiled code is taken only by a load of the same bytes with the same settings: a load
// with other settings, or of a file changed since, compiles its own, and DropPrecompiled
// releases what was not taken.
func TestPrecompiledCodeMustMatch(t *testing.T) {
	ctx := context.Background()
	r := newOwnRuntime(t, nil)
	dir := t.TempDir()

	// Other settings: the job stays for DropPrecompiled.
	r.Precompile(ctx, testguestWasm, ModuleOptions{InterruptOnDeadline: true})
	other := job(t, r, testguestWasm, ModuleOptions{InterruptOnDeadline: true})
	m, err := r.Load(ctx, testguestWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true, MemoryLimitPages: 512})
	require.NoError(t, err)
	assert.NotSame(t, other.c.rt, m.code.rt)
	require.NoError(t, m.Close(ctx))

	// A changed file: the load gets the new module, and the stale code is released.
	path := filepath.Join(dir, "changing.wasm")
	spinner, err := os.ReadFile(spinningWAT(t, "none"))
	require.NoError(t, err)
	guest, err := os.ReadFile(testguestWasm)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, spinner, 0o644))
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}
	r.Precompile(ctx, path, opts)
	stale := job(t, r, path, opts)
	require.NoError(t, stale.err)
	require.NoError(t, os.WriteFile(path, guest, 0o644))
	m, err = r.Load(ctx, path, opts)
	require.NoError(t, err)
	defer m.Close(ctx)
	assert.NotEqual(t, "spinner", m.Descriptor().Name, "the load compiled the file as it is now")
	assert.Nil(t, stale.c, "the stale code was released")

	r.DropPrecompiled(ctx)
	assert.Nil(t, other.c, "DropPrecompiled released the code no load took")
	r.pre.mu.Lock()
	assert.Empty(t, r.pre.jobs)
	r.pre.mu.Unlock()
}

// A file that does not compile fails its load with the load's own error, precompiled or not.
func TestPrecompiledFailureIsTheLoads(t *testing.T) {
	ctx := context.Background()
	wasm, err := os.ReadFile(testguestWasm)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "truncated.wasm")
	require.NoError(t, os.WriteFile(path, wasm[:len(wasm)/2], 0o644))

	plain := newRuntime(t, nil)
	_, want := plain.Load(ctx, path, ModuleOptions{InterruptOnDeadline: true})
	require.Error(t, want)

	r := newRuntime(t, nil)
	r.Precompile(ctx, path, ModuleOptions{InterruptOnDeadline: true})
	_, err = r.Load(ctx, path, ModuleOptions{InterruptOnDeadline: true})
	require.EqualError(t, err, want.Error())
	r.DropPrecompiled(ctx)
}

// Precompile compiles nothing for a file whose code the runtime's compilations already hold:
// the load takes that code.
func TestPrecompileSkipsHeldCode(t *testing.T) {
	ctx := context.Background()
	r := runtimeOn(t, nil, NewCompilations(1))
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}
	first, err := r.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	require.NoError(t, first.Close(ctx))

	r.Precompile(ctx, testguestWasm, opts)
	j := job(t, r, testguestWasm, opts)
	require.NoError(t, j.err)
	assert.Nil(t, j.c, "nothing was compiled")
	m := load(t, r, testguestWasm, opts)
	assert.Same(t, first.code, m.code, "the load took the kept code")
	r.DropPrecompiled(ctx)
}
