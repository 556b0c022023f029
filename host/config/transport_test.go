package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransportTable(t *testing.T) {
	path := write(t, good+`
[transport]
mode = "wasm"
pool_size = 2
max_header_bytes = 8192
read_timeout = "3s"
`)
	c, err := Load(path)
	require.NoError(t, err)
	c.Override(func(string) string { return "" }, nil)
	require.NoError(t, c.Finish())
	dir := filepath.Dir(path)
	assert.Equal(t, "http-transport", c.Transport.Module)
	assert.Equal(t, "wasm", c.Transport.Mode)
	assert.Equal(t, filepath.Join(dir, "wasm", "http-transport.wasm"), c.Transport.Path)
	assert.Equal(t, 2, c.Transport.PoolSize)
	assert.Equal(t, 8192, c.Transport.MaxHeaderBytes)
	assert.Equal(t, 3*time.Second, c.Transport.ReadTimeout.D())
	assert.Equal(t, DefaultIdleTimeout, c.Transport.IdleTimeout)

	c, err = Load(write(t, good))
	require.NoError(t, err)
	c.Override(func(string) string { return "" }, nil)
	require.NoError(t, c.Finish())
	assert.Equal(t, "auto", c.Transport.Mode)
	assert.Equal(t, DefaultMaxHeaderBytes, c.Transport.MaxHeaderBytes)
}

func TestTransportTableErrors(t *testing.T) {
	cases := map[string]struct{ text, msg string }{
		"unknown option":   {good + "\n[transport.options]\nframing = \"h2\"\n", "unknown key transport.options.framing"},
		"unknown mode":     {good + "\n[transport]\nmode = \"jit\"\n", `transport.mode: unknown mode "jit"`},
		"module is a path": {good + "\n[transport]\nmodule = \"x/y\"\n", "transport.module"},
		"negative pool":    {good + "\n[transport]\npool_size = -1\n", "transport.pool_size"},
		"negative header":  {good + "\n[transport]\nmax_header_bytes = -1\n", "transport.max_header_bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(write(t, c.text))
			if err == nil {
				cfg.Override(func(string) string { return "" }, nil)
				err = cfg.Finish()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}
