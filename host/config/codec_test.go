package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func finish(t *testing.T, text string) (*Config, error) {
	t.Helper()
	c, err := Load(write(t, text))
	if err != nil {
		return nil, err
	}
	c.Override(func(string) string { return "" }, nil)
	return c, c.Finish()
}

func TestCodecDefaults(t *testing.T) {
	c, err := finish(t, good)
	require.NoError(t, err)
	assert.Equal(t, "auto", c.Codec.Mode)
	assert.Equal(t, DefaultCodecModules(), c.Codec.Modules)

	c, err = finish(t, good+`
[codec]
mode = "wasm"
pool_size = 2
modules = ["json-codec", "yaml-codec"]
types = { "application/json" = "native" }
`)
	require.NoError(t, err)
	assert.Equal(t, "wasm", c.Codec.Mode)
	assert.Equal(t, 2, c.Codec.PoolSize)
	assert.Equal(t, []string{"json-codec", "yaml-codec"}, c.Codec.Modules)
	assert.Equal(t, map[string]string{"application/json": "native"}, c.Codec.Types)
}

func TestCodecErrors(t *testing.T) {
	for text, msg := range map[string]string{
		"[codec]\nmode = \"fast\"\n":                `codec.mode: unknown mode "fast"`,
		"[codec]\ntypes = { \"a/b\" = \"fast\" }\n": `codec.types "a/b": unknown mode "fast"`,
		"[codec]\npool_size = -1\n":                 "codec.pool_size: must not be negative",
		"[codec]\nmodule = \"json-codec\"\n":        "list their names in codec.modules",
		"[codec]\npath = \"x.wasm\"\n":              "list their names in codec.modules",
		"[codec]\nmodules = [\"a/b\"]\n":            `codec.modules[0]: "a/b" is a name, not a path`,
		"[codec]\nmodules = [\"x\", \"x\"]\n":       `codec.modules[1]: "x" is listed twice`,
		"[codec.options]\nstrict = true\n":          "unknown key codec.options.strict",
	} {
		_, err := finish(t, good+text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), msg, text)
	}
}
