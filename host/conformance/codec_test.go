package conformance_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/conformance"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/plugins/standard"
)

// TestCodecs holds both twins of every stock codec to the codec suite.
func TestCodecs(t *testing.T) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	names := cat.Names(component.KindCodec)
	require.Len(t, names, 4)
	for _, name := range names {
		t.Run(name+"/native", func(t *testing.T) {
			twin, _ := cat.Twin(component.KindCodec, name)
			r, err := conformance.Twin(ctx, twin)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Greater(t, len(r.Results), 10)
		})
		t.Run(name+"/wasm", func(t *testing.T) {
			path, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", filepath.Join(t.TempDir(), name))
			require.NoError(t, err)
			r, err := conformance.File(ctx, rt, path)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Equal(t, name, r.Name)
			assert.Greater(t, len(r.Results), 10)
		})
	}
}

// TestBrokenCodec: a codec whose decode drops everything fails, saying which checks and why.
func TestBrokenCodec(t *testing.T) {
	ctx := context.Background()
	path, err := guestbuild.WAT(ctx, "./host/conformance/testdata/broken-codec.wat", t.TempDir())
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	r, err := conformance.File(ctx, rt, path)
	require.NoError(t, err)
	err = r.Err()
	require.Error(t, err)
	t.Log(err)
	assert.ErrorContains(t, err, `codec "broken-codec" fails`)
	assert.ErrorContains(t, err, "application/x-broken: a request round trips (id, endpoint, body): body: got 0 bytes")
	assert.ErrorContains(t, err, "a 1 MiB body round trips")
}
