package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func finishText(t *testing.T, text string) (*Config, error) {
	t.Helper()
	c, err := Load(write(t, text))
	require.NoError(t, err)
	c.Override(func(string) string { return "" }, nil)
	return c, c.Finish()
}

const registryService = "[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n"

func TestRegistryComponent(t *testing.T) {
	c, err := finishText(t, registryService)
	require.NoError(t, err)
	assert.Equal(t, "local", c.Registry.Name)
	assert.Equal(t, "local-registry", c.Registry.Module)
	assert.Equal(t, "auto", c.Registry.Mode)
	assert.Equal(t, filepath.Join(c.Plugins.Dir, "local-registry.wasm"), c.Registry.Path)

	c, err = finishText(t, registryService+"[registry]\nname=\"consul\"\nmode=\"native\"\npool_size=2\n[registry.options]\nwatch_wait=\"5s\"\n")
	require.NoError(t, err)
	assert.Equal(t, "consul-registry", c.Registry.Module)
	assert.Equal(t, "native", c.Registry.Mode)
	assert.Equal(t, 2, c.Registry.PoolSize)
	o, err := c.Registry.DecodeOptions()
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, o.WatchWait.D())

	c, err = finishText(t, registryService+"[registry]\nmode=\"\"\nmodule=\"my-registry\"\n")
	require.NoError(t, err, "the old empty mode means auto")
	assert.Equal(t, "auto", c.Registry.Mode)
	assert.Equal(t, "my-registry", c.Registry.Module)

	_, err = finishText(t, registryService+"[registry]\nmode=\"turbo\"\n")
	require.ErrorContains(t, err, "registry.mode")
	_, err = finishText(t, registryService+"[registry.options]\nwatch_wiat=\"5s\"\n")
	require.ErrorContains(t, err, "registry.options.watch_wiat")
}
