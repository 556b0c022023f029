package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

func TestInspectGreeter(t *testing.T) {
	r := newRuntime(t, nil)
	info, err := r.Inspect(context.Background(), greeterWasm)
	require.NoError(t, err)
	require.NoError(t, info.Refused)
	fi, err := os.Stat(greeterWasm)
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), info.Size)
	assert.True(t, info.Compiled)
	assert.Equal(t, 1, info.ABIVersion)
	require.NotNil(t, info.Descriptor)
	assert.Equal(t, "greeter", info.Descriptor.Name)
	assert.Equal(t, abi.KindHandler, info.Descriptor.Kind)
	assert.Equal(t, "Greeter.Hello", info.Descriptor.Endpoints[0].Name)
	assert.Contains(t, info.Imports, Import{Module: "microhost", Name: "request_body", Signature: "(i32,i32) -> (i32)"})
	hasWASI := slices.ContainsFunc(info.Imports, func(im Import) bool { return im.Module == "wasi_snapshot_preview1" })
	assert.True(t, hasWASI, "a Go module imports WASI: %v", info.Imports)
	for _, e := range []string{abi.ExportMarker, abi.ExportDescribe, abi.ExportHandle, abi.ExportInitialize} {
		assert.Contains(t, info.Exports, e)
	}
	require.NotNil(t, info.Memory)
	assert.Positive(t, info.Memory.MinPages)
}

func TestInspectExplainsRefusals(t *testing.T) {
	r := newRuntime(t, nil)
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, content, 0o644))
		return path
	}

	info, err := r.Inspect(context.Background(), write("script.wasm", []byte("#!/bin/sh\n")))
	require.NoError(t, err)
	assert.False(t, info.Compiled)
	assert.ErrorIs(t, info.Refused, ErrNotWasm)
	assert.Equal(t, int64(10), info.Size)

	info, err = r.Inspect(context.Background(), write("truncated.wasm", []byte("\x00asm\x01\x00\x00\x00\x01\x05")))
	require.NoError(t, err)
	assert.False(t, info.Compiled)
	assert.ErrorContains(t, info.Refused, "compile")

	info, err = r.Inspect(context.Background(), write("v2.wasm", wasmWithExports("microhost_abi_version_2", "microhost_describe", "microhost_handle")))
	require.NoError(t, err)
	assert.True(t, info.Compiled)
	assert.Equal(t, 2, info.ABIVersion)
	assert.Nil(t, info.Descriptor)
	assert.ErrorIs(t, info.Refused, ErrABIVersion)

	info, err = r.Inspect(context.Background(), write("foreign.wasm", wasmModule("env", "abort", "microhost_abi_version_1")))
	require.NoError(t, err)
	assert.Equal(t, []Import{{Module: "env", Name: "abort", Signature: "() -> ()"}}, info.Imports)
	assert.ErrorContains(t, info.Refused, "imports env.abort")

	_, err = r.Inspect(context.Background(), filepath.Join(dir, "absent.wasm"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestInstanceMemoryBytes(t *testing.T) {
	m := load(t, newRuntime(t, nil), greeterWasm, ModuleOptions{PoolSize: 1})
	_, err := m.Call(context.Background(), &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)})
	require.NoError(t, err)
	n, err := m.InstanceMemoryBytes(context.Background())
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Zero(t, n%(64<<10), "memory is whole pages")
	// The instance went back to the pool: the next call still gets one.
	_, err = m.Call(context.Background(), &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)})
	require.NoError(t, err)
}

// Inspect compiles a module once: what it declares is read from the compilation its check
// load then instantiates, and a later load with interrupts takes the same code.
func TestInspectCompilesOnce(t *testing.T) {
	ctx := context.Background()
	r, err := NewRuntime(ctx, Options{CacheDir: t.TempDir()})
	require.NoError(t, err)
	defer r.Close(ctx)
	info, err := r.Inspect(ctx, spinningWAT(t, "none"))
	require.NoError(t, err)
	require.NoError(t, info.Refused)
	require.NotNil(t, info.Descriptor)
	assert.NotEmpty(t, info.Exports, "read from the one compilation")
	assert.Equal(t, 1, r.cacheFiles(), "compilations in the cache")
}
