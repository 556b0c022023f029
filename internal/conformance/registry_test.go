package conformance_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/consultest"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/plugins/standard"
)

// registryRuntime returns a runtime for registry modules, closed with the test.
func registryRuntime(t *testing.T) *host.Runtime {
	t.Helper()
	rt, err := host.NewRuntime(context.Background(), host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// checkRegistryTwins runs the suite against both twins of the stock registry name.
func checkRegistryTwins(t *testing.T, name string) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	twin, ok := cat.Twin(component.KindRegistry, name)
	require.True(t, ok, "no native twin %q", name)
	t.Run("native", func(t *testing.T) {
		rep, err := conformance.Twin(ctx, twin)
		require.NoError(t, err)
		require.NoError(t, rep.Err())
		require.NotEmpty(t, rep.Results)
	})
	t.Run("wasm", func(t *testing.T) {
		wasm, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", t.TempDir())
		require.NoError(t, err)
		rep, err := conformance.File(ctx, registryRuntime(t), wasm)
		require.NoError(t, err)
		require.NoError(t, rep.Err())
		require.Equal(t, name, rep.Name)
	})
}

func TestRegistryLocal(t *testing.T) {
	checkRegistryTwins(t, "local-registry")
}

func TestRegistryConsul(t *testing.T) {
	if _, err := consultest.Binary(); err != nil {
		t.Skipf("no Consul agent binary: %v", err)
	}
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	twin, _ := cat.Twin(component.KindRegistry, "consul-registry")
	t.Setenv(conformance.ConsulAddrEnv, "")
	_, err = conformance.Twin(ctx, twin)
	require.ErrorContains(t, err, conformance.ConsulAddrEnv, "without an agent the suite says what it needs")
	wasm, err := guestbuild.Go(ctx, "./plugins/consul-registry/wasm", t.TempDir())
	require.NoError(t, err)
	rep, err := conformance.File(ctx, registryRuntime(t), wasm)
	require.NoError(t, err)
	require.ErrorContains(t, rep.Err(), conformance.ConsulAddrEnv)

	agent := consultest.Start(t)
	t.Setenv(conformance.ConsulAddrEnv, agent.Addr)
	checkRegistryTwins(t, "consul-registry")
}

func TestRegistryBroken(t *testing.T) {
	wasm, err := guestbuild.WAT(context.Background(), "internal/conformance/testdata/broken-registry.wat", t.TempDir())
	if errors.Is(err, guestbuild.ErrToolMissing) {
		t.Skip(err)
	}
	require.NoError(t, err)
	rep, err := conformance.File(context.Background(), registryRuntime(t), filepath.Clean(wasm))
	require.NoError(t, err)
	err = rep.Err()
	require.Error(t, err)
	t.Log(err)
	require.ErrorContains(t, err, `registry "broken-registry" fails`)
	require.ErrorContains(t, err, "get returns the registered node")
	require.ErrorContains(t, err, "refuses malformed input with a 400")
}
