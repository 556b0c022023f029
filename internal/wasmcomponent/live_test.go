package wasmcomponent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// handlerWAT is a handler named "live" answering every call with reply.
func handlerWAT(t *testing.T, dir, reply string) string {
	t.Helper()
	desc := `{"kind":"handler","name":"live","version":"1.0.0","endpoints":[{"name":"Live.Get"}]}`
	src := filepath.Join(dir, "live.wat")
	require.NoError(t, os.WriteFile(src, fmt.Appendf(nil, `(module
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) %q)
  (data (i32.const 4096) %q)
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const %d))
  (func (export "microhost_handle") (param i32 i32) (result i32)
    (call $response_body (i32.const 4096) (i32.const %d))
    (i32.const 0)))
`, desc, reply, len(desc), len(reply)), 0o644))
	out, err := guestbuild.WAT(context.Background(), src, filepath.Join(dir, "out"))
	if err != nil {
		t.Skipf("wat2wasm: %v", err)
	}
	return out
}

func get(ctx context.Context, m interface {
	Call(context.Context, *host.Request) (*host.Response, error)
}) (string, error) {
	res, err := m.Call(ctx, &host.Request{Endpoint: "Live.Get"})
	if err != nil {
		return "", err
	}
	return string(res.Body), nil
}

// A call that holds the old module keeps it open across a swap; the old module is closed
// once the last such call is done, and new calls go to the new module at once.
func TestLiveDrainsTheOldModule(t *testing.T) {
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: "off"})
	require.NoError(t, err)
	defer rt.Close(ctx)
	v1 := handlerWAT(t, filepath.Join(t.TempDir()), "one")
	v2 := handlerWAT(t, filepath.Join(t.TempDir()), "two")

	old, err := rt.Load(ctx, v1, host.ModuleOptions{})
	require.NoError(t, err)
	live := wasmcomponent.NewLive(old, "d1")
	defer live.Close()

	held, done, err := live.Acquire() // a call in flight on the old module
	require.NoError(t, err)
	c, err := wasmcomponent.Prepare(ctx, rt, wasmcomponent.Spec{Kind: "handler", Name: "live", Path: v2}, 2, nil)
	require.NoError(t, err)
	assert.Equal(t, "d1", live.Swap(c))
	assert.Equal(t, c.Digest, live.Digest())

	body, err := get(ctx, live)
	require.NoError(t, err)
	assert.Equal(t, "two", body, "new calls go to the new module")
	body, err = get(ctx, held)
	require.NoError(t, err)
	assert.Equal(t, "one", body, "the call in flight still runs on the old module")

	done()
	_, err = get(ctx, held)
	require.Error(t, err, "the old module is closed once drained")

	// Concurrent calls across swaps never see a closed module.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := get(ctx, live); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		path := []string{v1, v2}[i%2]
		c, err := wasmcomponent.Prepare(ctx, rt, wasmcomponent.Spec{Kind: "handler", Name: "live", Path: path}, 1, nil)
		require.NoError(t, err)
		live.Swap(c)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Once closed, calls fail at once rather than wait.
	closed := wasmcomponent.NewLive(func() *host.Module {
		m, err := rt.Load(ctx, v1, host.ModuleOptions{})
		require.NoError(t, err)
		return m
	}(), "d")
	closed.Close()
	_, err = get(ctx, closed)
	require.ErrorIs(t, err, wasmcomponent.ErrClosed)
}

// A file that is not the component its slot asks for is refused, naming the file.
func TestPrepareRefuses(t *testing.T) {
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: "off"})
	require.NoError(t, err)
	defer rt.Close(ctx)
	dir := t.TempDir()
	v1 := handlerWAT(t, dir, "one")
	_, err = wasmcomponent.Prepare(ctx, rt, wasmcomponent.Spec{Kind: "handler", Name: "other", Path: v1}, 1, nil)
	require.ErrorContains(t, err, v1)
	require.ErrorContains(t, err, `not "other"`)
	junk := filepath.Join(dir, "junk.wasm")
	require.NoError(t, os.WriteFile(junk, []byte("junk"), 0o644))
	_, err = wasmcomponent.Prepare(ctx, rt, wasmcomponent.Spec{Kind: "handler", Path: junk}, 1, nil)
	require.ErrorContains(t, err, junk)
}
