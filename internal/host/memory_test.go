package host

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const wasmPage = 64 << 10

// A guest's memory grows in place up to its maximum: what it held stays, what it gains
// reads zero, and a growth past the maximum is refused rather than honoured.
func TestGuestMemoryGrowsInPlace(t *testing.T) {
	mem := newGuestMemory(0, 4*wasmPage)
	t.Cleanup(mem.Free)
	b := mem.Reallocate(wasmPage)
	require.Len(t, b, wasmPage)
	for i := range b {
		b[i] = byte(i)
	}
	base := unsafe.SliceData(b)

	b = mem.Reallocate(3 * wasmPage)
	require.Len(t, b, 3*wasmPage)
	assert.Equal(t, 3*wasmPage, cap(b), "nothing past the length is handed out")
	if _, reserved := mem.(*reservedMemory); reserved {
		assert.Equal(t, base, unsafe.SliceData(b), "grown in place, without a copy")
	}
	for i := range wasmPage {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed by the growth: %d", i, b[i])
		}
	}
	for i := wasmPage; i < len(b); i++ {
		if b[i] != 0 {
			t.Fatalf("new byte %d is %d, not zero", i, b[i])
		}
	}
	b[len(b)-1] = 7 // the last byte is writable

	assert.Nil(t, mem.Reallocate(5*wasmPage), "past the maximum")
	assert.Len(t, mem.Reallocate(4*wasmPage), 4*wasmPage, "up to the maximum")
}

// Where the platform can reserve address space, a guest's memory lives outside the Go heap.
func TestGuestMemoryIsReserved(t *testing.T) {
	mem := newGuestMemory(0, DefaultMemoryLimitPages*wasmPage)
	t.Cleanup(mem.Free)
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("this platform keeps guest memory in the Go heap")
	}
	require.IsType(t, &reservedMemory{}, mem)
	assert.Len(t, mem.Reallocate(DefaultMemoryLimitPages*wasmPage), DefaultMemoryLimitPages*wasmPage)
}

// A module closed while a call runs keeps that instance's memory until the call ends: the
// call finishes and answers (its guest writes its reply into memory after the Close), calls
// after the Close are refused, and the module is released when the last call returns.
func TestCloseWaitsForCallsInFlight(t *testing.T) {
	ctx := context.Background()
	r := newOwnRuntime(t, nil)
	m, err := r.Load(ctx, testguestWasm, ModuleOptions{PoolSize: 2})
	require.NoError(t, err)

	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := m.Call(ctx, &Request{Endpoint: "Test.Sleep", Body: []byte("300ms")})
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{body: res.Body}
	}()
	require.Eventually(t, func() bool { busy, _ := m.poolStats(); return busy == 1 }, 10*time.Second, time.Millisecond)

	require.NoError(t, m.Close(ctx))
	_, err = m.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.ErrorIs(t, err, ErrModuleClosed)
	assert.Contains(t, err.Error(), testguestWasm, "the error names the module")
	select {
	case <-done:
		t.Fatal("the call in flight ended with the Close")
	default:
	}
	_, err = m.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.NoError(t, err, "the module's runtime is kept while a call runs")

	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, "slept", string(res.body))
	_, err = m.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err, "the last call released the module's runtime")
	assert.Zero(t, m.out.Load())
	require.NoError(t, m.Close(ctx), "a second Close")
}

// Closing a module with no call in flight releases it at once.
func TestCloseIdleModule(t *testing.T) {
	ctx := context.Background()
	m, err := newOwnRuntime(t, nil).Load(ctx, testguestWasm, ModuleOptions{})
	require.NoError(t, err)
	_, err = m.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.NoError(t, err)
	require.NoError(t, m.Close(ctx))
	_, err = m.code.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.Error(t, err)
	_, err = m.Call(ctx, &Request{Endpoint: "Test.Noop"})
	require.True(t, errors.Is(err, ErrModuleClosed), "%v", err)
}

// No guest memory outlives its instance: not one whose start function failed (wazero leaves
// that memory to its allocator), not a pool's after Close, not a trapped instance's.
func TestGuestMemoriesAreReleased(t *testing.T) {
	ctx := context.Background()
	r, err := NewRuntime(ctx, Options{CacheDir: testCacheDir, StartupTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close(ctx)

	for _, interrupt := range []bool{true, false} {
		_, err = r.Load(ctx, spinningWAT(t, "start"), ModuleOptions{InterruptOnDeadline: interrupt})
		require.ErrorIs(t, err, ErrStartup)
		assert.Zero(t, r.liveMemories.Load(), "a start function stopped at the deadline (interrupt=%t)", interrupt)
		_, err = r.Load(ctx, trappingStartWAT(t), ModuleOptions{InterruptOnDeadline: interrupt})
		require.ErrorContains(t, err, "unreachable")
		assert.Zero(t, r.liveMemories.Load(), "a start function that trapped (interrupt=%t)", interrupt)
	}

	// The Go guest gets the default start-up deadline: under the race detector on a busy
	// machine its _initialize can take longer than the 100 ms the spinning modules get.
	r = newRuntime(t, nil)
	m, err := r.Load(ctx, testguestWasm, ModuleOptions{PoolSize: 2})
	require.NoError(t, err)
	require.NoError(t, m.Warm(ctx, 2))
	assert.EqualValues(t, 2, r.liveMemories.Load(), "one per instance")
	_, err = m.Call(ctx, &Request{Endpoint: "Test.Trap"})
	require.ErrorIs(t, err, ErrGuestFault)
	assert.EqualValues(t, 1, r.liveMemories.Load(), "the trapped instance's is released")
	require.NoError(t, m.Close(ctx))
	assert.Zero(t, r.liveMemories.Load(), "the pool's, at Close")
}

// trappingStartWAT is a module whose start function traps once its memory is set up.
func trappingStartWAT(t *testing.T) string {
	t.Helper()
	const src = `(module
  (memory (export "memory") 2)
  (data (i32.const 0) "some data the instantiation copies")
  (func $trap (i32.store (i32.const 70000) (i32.const 1)) unreachable)
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const 0))
  (func (export "microhost_handle") (param i32 i32) (result i32) (i32.const 0))
  (start $trap))`
	return buildWAT(t, "trap-start", src)
}
