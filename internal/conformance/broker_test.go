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

// TestBrokerTwins runs the broker suite against both twins of every stock broker: the
// native twin from the stock catalogue, and the module built from source.
func TestBrokerTwins(t *testing.T) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	names := cat.Names(component.KindBroker)
	require.NotEmpty(t, names)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	for _, name := range names {
		t.Run(name+"/native", func(t *testing.T) {
			twin, _ := cat.Twin(component.KindBroker, name)
			r, err := conformance.Twin(ctx, twin)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Greater(t, len(r.Results), 10)
		})
		t.Run(name+"/wasm", func(t *testing.T) {
			dir := t.TempDir()
			path, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", dir)
			require.NoError(t, err)
			r, err := conformance.File(ctx, rt, path)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Equal(t, name, r.Name)
			assert.Greater(t, len(r.Results), 10)
		})
	}
}

// TestBrokenBrokerFails runs the suite against a broker module that answers every operation
// with an empty success: it must fail, naming the broken checks.
func TestBrokenBrokerFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, err := guestbuild.WAT(ctx, "./internal/conformance/testdata/broken-broker.wat", dir)
	if err != nil {
		t.Skipf("cannot assemble the broken broker: %v", err)
	}
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	r, err := conformance.File(ctx, rt, path)
	require.NoError(t, err)
	err = r.Err()
	require.Error(t, err)
	t.Log(err)
	msg := err.Error()
	assert.Contains(t, msg, `broker "broken-broker" fails`)
	assert.Contains(t, msg, "encode then parse keeps topic, headers and body: parse gives the subscriber id")
	assert.Contains(t, msg, "parse refuses a GET with a 4xx: accepted it")
	assert.Contains(t, msg, "route sends to every broadcast subscriber and one of each queue group")
}
