package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Modules loaded from the same bytes with the same deadline and memory settings share one
// compilation while any of them is loaded; other settings compile their own, and the last
// module to close releases the code.
func TestSameBytesShareCompiledCode(t *testing.T) {
	ctx := context.Background()
	r := newOwnRuntime(t, nil)
	opts := ModuleOptions{PoolSize: 1}
	a, err := r.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	b, err := r.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	assert.Same(t, a.code, b.code, "the second load of the same bytes takes the first one's code")
	assert.True(t, b.CacheHit(), "code shared is code compiled before")

	pages := load(t, r, testguestWasm, ModuleOptions{PoolSize: 1, MemoryLimitPages: 512})
	interrupt := load(t, r, testguestWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
	assert.NotSame(t, a.code, pages.code, "another memory cap is another compilation")
	assert.NotSame(t, a.code, interrupt.code, "deadline checks are another compilation")
	assert.Equal(t, 3, r.codes.size())

	require.NoError(t, a.Close(ctx))
	_, err = b.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.NoError(t, err, "closing one module leaves the code to the other")
	_, err = b.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.NoError(t, err, "the shared runtime is open while a module uses it")

	require.NoError(t, b.Close(ctx))
	_, err = b.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err, "the last module released the runtime")
	assert.Equal(t, 2, r.codes.size())

	// A load after the last one closed compiles again, and is shared again.
	c := load(t, r, testguestWasm, opts)
	assert.NotSame(t, b.code, c.code)
	assert.Equal(t, 1, c.code.refs)
}

// What a module does not share with the other modules of its code stays its own: each sees
// only its own mounts.
func TestSharedCodeKeepsMountsApart(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, nil)
	one, two := t.TempDir(), t.TempDir()
	// Only the first folder holds a file beside the one Hostile.Files writes (and removes,
	// with its folder), so its answer tells which folder a module sees: a count of one in
	// an empty folder, or a folder it cannot remove.
	require.NoError(t, os.MkdirAll(filepath.Join(one, "svc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(one, "svc", "planted.json"), []byte("{}"), 0o644))
	m1 := load(t, r, hostileWasm, ModuleOptions{PoolSize: 1, Mounts: []Mount{{HostDir: one, GuestPath: "/registry"}}})
	m2 := load(t, r, hostileWasm, ModuleOptions{PoolSize: 1, Mounts: []Mount{{HostDir: two, GuestPath: "/registry"}}})
	require.Same(t, m1.code, m2.code)

	res, err := m2.Call(ctx, &Request{Endpoint: "Hostile.Files", Body: []byte(`{"id":"two"}`)})
	require.NoError(t, err)
	assert.Equal(t, `1 {"id":"two"}`, string(res.Body), "the second module sees its own, empty folder")
	_, err = m1.Call(ctx, &Request{Endpoint: "Hostile.Files", Body: []byte(`{"id":"one"}`)})
	require.ErrorContains(t, err, "remove /registry/svc: Directory not empty", "the first module sees the planted file")
	_, err = os.Stat(filepath.Join(two, "svc", "planted.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Runtimes given the same Compilations share code as one runtime's modules do, and it keeps
// the code no module uses, up to its bound, for the next load of the same bytes: the one
// released longest ago goes first, and Close releases the rest. Kept code outlives the
// runtime that compiled it.
func TestCompilationsShareAndKeepIdleCode(t *testing.T) {
	ctx := context.Background()
	shared := NewCompilations(1)
	r1, r2 := runtimeOn(t, nil, shared), runtimeOn(t, nil, shared)
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}
	a, err := r1.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	b, err := r2.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	assert.Same(t, a.code, b.code, "the second runtime's load takes the first one's code")
	require.NoError(t, a.Close(ctx))
	require.NoError(t, b.Close(ctx))
	assert.Equal(t, 1, shared.table.size(), "the code no module uses is kept")

	require.NoError(t, r1.Close(ctx))
	c := load(t, r2, testguestWasm, opts)
	assert.Same(t, b.code, c.code, "a later load takes the kept code")
	assert.True(t, c.CacheHit())
	_, err = c.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.NoError(t, err, "kept code serves after the runtime that compiled it closed")

	d := load(t, r2, greeterWasm, opts)
	require.NoError(t, c.Close(ctx))
	require.NoError(t, d.Close(ctx))
	_, err = c.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err, "the code released longest ago went when the next made one too many")
	_, err = d.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.NoError(t, err, "the code released last is kept")
	assert.Equal(t, 1, shared.table.size())

	require.NoError(t, shared.Close(ctx))
	_, err = d.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err, "Close released the kept code")
	assert.Zero(t, shared.table.size())
}

// A compilation added while the same one is kept idle (another load compiled it, used it and
// released it meanwhile) takes the kept one, which leaves the idle list: in use again, it
// cannot be pushed out by a later release.
func TestAddTakesTheKeptCompilation(t *testing.T) {
	ctx := context.Background()
	r := runtimeOn(t, nil, NewCompilations(1))
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}.withDefaults()
	kept, err := r.Load(ctx, testguestWasm, opts)
	require.NoError(t, err)
	require.NoError(t, kept.Close(ctx))

	wasm, err := os.ReadFile(testguestWasm)
	require.NoError(t, err)
	sum, _ := digestOf(wasm)
	key := codeKeyOf(sum, opts)
	c, err := r.compile(ctx, wasm, key.sum, opts)
	require.NoError(t, err)
	got, err := r.codes.add(ctx, key, c)
	require.NoError(t, err)
	require.Same(t, kept.code, got, "the kept compilation is taken, the new one released")
	assert.Empty(t, r.codes.idle)

	other, err := r.Load(ctx, greeterWasm, opts)
	require.NoError(t, err)
	require.NoError(t, other.Close(ctx))
	_, err = got.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.NoError(t, err, "the compilation in use was not pushed out")
	require.NoError(t, r.codes.release(ctx, got))
	_, err = other.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err, "the one kept longer went instead")
}
