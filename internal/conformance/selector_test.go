package conformance_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/plugins/standard"
)

func selectorRuntime(t *testing.T) *host.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

func TestSelectorConformance(t *testing.T) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	names := cat.Names(component.KindSelector)
	require.Contains(t, names, "random-selector")
	for _, name := range names {
		t.Run(name+"/native", func(t *testing.T) {
			twin, _ := cat.Twin(component.KindSelector, name)
			r, err := conformance.Twin(ctx, twin)
			require.NoError(t, err)
			require.NoError(t, r.Err())
		})
		t.Run(name+"/wasm", func(t *testing.T) {
			path, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", t.TempDir())
			require.NoError(t, err)
			r, err := conformance.File(ctx, selectorRuntime(t), path)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Equal(t, name, r.Name)
		})
	}
}

// TestSelectorConformanceWAT holds a selector written in WAT from abi/selector.md alone to
// the suite: it passes; a broken one fails, naming the checks.
func TestSelectorConformanceWAT(t *testing.T) {
	ctx := context.Background()
	rt := selectorRuntime(t)
	last, err := guestbuild.WAT(ctx, "internal/selector/testdata/last-selector.wat", t.TempDir())
	if err != nil {
		t.Skip(err)
	}
	r, err := conformance.File(ctx, rt, last)
	require.NoError(t, err)
	require.NoError(t, r.Err())

	broken, err := guestbuild.WAT(ctx, "internal/conformance/testdata/broken-selector.wat", t.TempDir())
	require.NoError(t, err)
	r, err = conformance.File(ctx, rt, broken)
	require.NoError(t, err)
	err = r.Err()
	require.Error(t, err)
	msg := err.Error()
	t.Log(msg)
	assert.Contains(t, msg, `selector "broken-selector" fails`)
	assert.Contains(t, msg, "honours the version filter: chose node 0")
	assert.Contains(t, msg, "no nodes is a not-found error (404): with no nodes, want an error")
	assert.Contains(t, msg, "refuses a truncated tag with a 400: input ff was accepted")
}
