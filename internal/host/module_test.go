package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/logbuffer"
)

// newRuntime returns a runtime on the compilations the package's tests share
// (testCompilations), closed when t ends; logs, when set, gets its records.
func newRuntime(t testing.TB, logs *logbuffer.Buffer) *Runtime {
	t.Helper()
	return runtimeOn(t, logs, testCompilations)
}

// newOwnRuntime returns a runtime that compiles for itself and keeps nothing idle, for the
// tests of when compiled code is released.
func newOwnRuntime(t testing.TB, logs *logbuffer.Buffer) *Runtime {
	t.Helper()
	return runtimeOn(t, logs, nil)
}

func runtimeOn(t testing.TB, logs *logbuffer.Buffer, shared *Compilations) *Runtime {
	t.Helper()
	opts := Options{CacheDir: testCacheDir, Compilations: shared}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := NewRuntime(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func load(t testing.TB, r *Runtime, path string, opts ModuleOptions) *Module {
	t.Helper()
	m, err := r.Load(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func TestGreeterCall(t *testing.T) {
	m := load(t, newRuntime(t, nil), greeterWasm, ModuleOptions{})
	desc := m.Descriptor()
	assert.Equal(t, abi.Descriptor{Kind: "handler", Name: "greeter", Version: "1.0.0", Endpoints: []abi.Endpoint{
		{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"},
	}}, desc)

	res, err := m.Call(context.Background(), &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"greeting":"Hello John"}`, string(res.Body))

	_, err = m.Call(context.Background(), &Request{Endpoint: "Greeter.Hello", Body: []byte(`{"name":`)})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(400), ae.Code)
	assert.Contains(t, ae.Detail, "malformed JSON")

	_, err = m.Call(context.Background(), &Request{Endpoint: "Greeter.Nope", Body: []byte(`{}`)})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(404), ae.Code)
}

func TestHeadersAndHandlerErrors(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{})
	res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Echo", ContentType: "text/plain",
		Header: map[string]string{"x-trace": "abc"}, Body: []byte("hi")})
	require.NoError(t, err)
	assert.Equal(t, "text/plain|abc|hi", string(res.Body))

	res, err = m.Call(context.Background(), &Request{Endpoint: "Test.Meta", Header: map[string]string{"X-In": "hi"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"X-Out": "hi!"}, res.Header, "reply metadata set with SetHeader")

	_, err = m.Call(context.Background(), &Request{Endpoint: "Test.Fail", Body: []byte("x")})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, &abi.Error{Code: 409, Detail: "conflict: x", Status: "Conflict"}, ae)
}

// TestGuestFaultsAreContained drives every kind of guest fault and checks that each fails
// only its own call and that the module keeps serving on a fresh instance.
func TestGuestFaultsAreContained(t *testing.T) {
	logs := &logbuffer.Buffer{}
	m := load(t, newRuntime(t, logs), testguestWasm, ModuleOptions{PoolSize: 1, MemoryLimitPages: 256})
	for _, endpoint := range []string{"Test.Trap", "Test.BadPointer", "Test.BadEndpointBuffer", "Test.Hog"} {
		t.Run(endpoint, func(t *testing.T) {
			_, err := m.Call(context.Background(), &Request{Endpoint: endpoint})
			require.ErrorIs(t, err, ErrGuestFault)
			res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Echo", Body: []byte("after")})
			require.NoError(t, err)
			assert.Equal(t, "||after", string(res.Body))
		})
	}
	assert.Contains(t, logs.String(), "outside the guest's memory")
}

func TestRunawayGuestStoppedAtDeadline(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Call(ctx, &Request{Endpoint: "Test.Loop", Body: []byte("forever")})
	require.ErrorIs(t, err, ErrGuestFault)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Echo", Body: []byte("alive")})
	require.NoError(t, err)
	assert.Equal(t, "||alive", string(res.Body))
}

func TestRealClocks(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{})
	start := time.Now()
	res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Sleep", Body: []byte("50ms")})
	require.NoError(t, err)
	assert.Equal(t, "slept", string(res.Body))
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "guest sleep must use the real clock")
}

func TestGuestLogsReachSlog(t *testing.T) {
	logs := &logbuffer.Buffer{}
	m := load(t, newRuntime(t, logs), testguestWasm, ModuleOptions{})
	_, err := m.Call(context.Background(), &Request{Endpoint: "Test.Log", Body: []byte("hello")})
	require.NoError(t, err)
	out := logs.String()
	assert.Contains(t, out, `msg="log from guest: hello"`)
	assert.Contains(t, out, "module=testguest")
	assert.Contains(t, out, `msg="stderr from guest"`)
}

func TestPoolBoundsConcurrency(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Call(context.Background(), &Request{Endpoint: "Test.Sleep", Body: []byte("10ms")})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(m.slots), 2)

	// With both instances busy, a caller whose context ends while waiting gets an error.
	var busy sync.WaitGroup
	for range 2 {
		busy.Add(1)
		go func() {
			defer busy.Done()
			_, _ = m.Call(context.Background(), &Request{Endpoint: "Test.Sleep", Body: []byte("1s")})
		}()
	}
	require.Eventually(t, func() bool { return len(m.idle) == 0 && len(m.slots) == 2 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := m.Call(ctx, &Request{Endpoint: "Test.Echo"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	busy.Wait()
}

// wasmWithExports returns a minimal module exporting one ()->() function under each name,
// and a memory.
func wasmWithExports(names ...string) []byte {
	return wasmModule("", "", names...)
}

// wasmModule is wasmWithExports plus, when importModule is set, one imported ()->()
// function.
func wasmModule(importModule, importName string, names ...string) []byte {
	var b bytes.Buffer
	b.WriteString("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		b.WriteByte(id)
		b.Write(binary.AppendUvarint(nil, uint64(len(body))))
		b.Write(body)
	}
	section(1, []byte{1, 0x60, 0, 0})
	base := 0
	if importModule != "" {
		imp := []byte{1, byte(len(importModule))}
		imp = append(imp, importModule...)
		imp = append(imp, byte(len(importName)))
		imp = append(imp, importName...)
		imp = append(imp, 0, 0)
		section(2, imp)
		base = 1
	}
	funcs := []byte{byte(len(names))}
	for range names {
		funcs = append(funcs, 0)
	}
	section(3, funcs)
	section(5, []byte{1, 0, 1})
	exports := []byte{byte(len(names) + 1)}
	for i, n := range names {
		exports = append(exports, byte(len(n)))
		exports = append(exports, n...)
		exports = append(exports, 0, byte(base+i))
	}
	exports = append(exports, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0)
	section(7, exports)
	code := []byte{byte(len(names))}
	for range names {
		code = append(code, 2, 0, 0x0b)
	}
	section(10, code)
	return b.Bytes()
}

func TestLoadRefusesBadModules(t *testing.T) {
	r := newRuntime(t, nil)
	dir := t.TempDir()
	cases := []struct {
		name    string
		content []byte
		is      error
		msg     string
	}{
		{"notwasm", []byte("#!/bin/sh\necho hi\n"), ErrNotWasm, "not a WebAssembly binary"},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x05"), nil, "compile"},
		{"v2", wasmWithExports("microhost_abi_version_2", "microhost_describe", "microhost_handle"), ErrABIVersion, "built for ABI version 2, this host speaks version 1"},
		{"plain", wasmWithExports("run"), ErrMissingExport, "missing export: microhost_abi_version_1"},
		{"nohandle", wasmWithExports("microhost_abi_version_1", "microhost_describe"), ErrMissingExport, "microhost_describe has signature () -> ()"},
		{"foreign import", wasmModule("env", "abort", "microhost_abi_version_1"), nil, "imports env.abort: only the \"microhost\" and \"wasi_snapshot_preview1\" namespaces"},
		{"unknown host function", wasmModule("microhost", "teleport", "microhost_abi_version_1"), nil, "imports microhost.teleport, which ABI version 1 does not have"},
		{"wrong host signature", wasmModule("microhost", "log", "microhost_abi_version_1"), nil, "imports microhost.log as () -> (), but it is (i32,i32,i32) -> ()"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".wasm")
			require.NoError(t, os.WriteFile(path, c.content, 0o644))
			_, err := r.Load(context.Background(), path, ModuleOptions{})
			require.Error(t, err)
			if c.is != nil && c.name != "nohandle" {
				assert.ErrorIs(t, err, c.is)
			}
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
	_, err := r.Load(context.Background(), filepath.Join(dir, "absent.wasm"), ModuleOptions{})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, errors.Is(err, ErrNotWasm))
}

// A caller that gives ReplyTo gets the reply appended there, in its own buffer when it fits,
// and a reply to a call that sets no body leaves it as it was.
func TestReplyTo(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 1})
	buf := make([]byte, 0, 64)
	buf = append(buf, "prefix:"...)
	res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Echo", Body: []byte("alive"), ReplyTo: buf})
	require.NoError(t, err)
	assert.Equal(t, "prefix:||alive", string(res.Body))
	assert.Same(t, &buf[:1][0], &res.Body[0], "the reply is in the caller's buffer")

	res, err = m.Call(context.Background(), &Request{Endpoint: "Test.Noop", ReplyTo: buf})
	require.NoError(t, err)
	assert.Equal(t, "prefix:", string(res.Body), "Test.Noop's reply has no body")
}
