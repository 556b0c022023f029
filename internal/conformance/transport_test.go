package conformance_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/plugins/standard"
)

func TestTransportConformance(t *testing.T) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	names := cat.Names(component.KindTransport)
	require.Contains(t, names, "http-transport")
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })

	for _, name := range names {
		t.Run(name+"/native", func(t *testing.T) {
			twin, _ := cat.Twin(component.KindTransport, name)
			rep, err := conformance.Twin(ctx, twin)
			require.NoError(t, err)
			require.NoError(t, rep.Err())
			assert.Greater(t, len(rep.Results), 15)
		})
		t.Run(name+"/wasm", func(t *testing.T) {
			dir := t.TempDir()
			path, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", dir)
			require.NoError(t, err)
			rep, err := conformance.File(ctx, rt, path)
			require.NoError(t, err)
			require.NoError(t, rep.Err())
			assert.Equal(t, name, rep.Name)
		})
	}

	t.Run("broken module", func(t *testing.T) {
		path, err := guestbuild.WAT(ctx, filepath.Join("internal", "conformance", "testdata", "broken-transport.wat"), t.TempDir())
		if errors.Is(err, guestbuild.ErrToolMissing) {
			t.Skip(err)
		}
		require.NoError(t, err)
		rep, err := conformance.File(ctx, rt, path)
		require.NoError(t, err)
		err = rep.Err()
		require.Error(t, err)
		msg := err.Error()
		t.Log(msg)
		assert.Contains(t, msg, `transport "broken-transport" fails`)
		assert.Contains(t, msg, "frames a well-formed mucp POST: transport module: frame: consumed 2147483647 bytes but was given")
		assert.Contains(t, msg, "refuses a GET with 405: failed without a framing error")
		assert.Contains(t, msg, "writes a reply head that parses as HTTP/1.1: the head is not an HTTP/1.1 response head")
		assert.Contains(t, msg, "writes a request head that parses as an HTTP/1.1 POST: the head is not an HTTP/1.1 request head")
		assert.Contains(t, msg, "frames a Go Micro reply: transport module: response: status 0 out of range")
	})
}
