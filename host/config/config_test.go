package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

const good = `
[service]
name = "greeter"
version = "1.2.0"
metadata = { team = "core" }

[server]
address = "127.0.0.1:8000-8010"
timeout = "2s"

[registry]
ttl = "20s"
interval = "5s"

[plugins]
dir = "wasm"

[[handler]]
module = "greeter"
pool_size = 3
`

func TestLoadGood(t *testing.T) {
	path := write(t, good)
	c, err := Load(path)
	require.NoError(t, err)
	c.Override(func(string) string { return "" }, nil)
	require.NoError(t, c.Finish())
	dir := filepath.Dir(path)
	assert.Equal(t, "greeter", c.Service.Name)
	assert.Equal(t, map[string]string{"team": "core"}, c.Service.Metadata)
	assert.Equal(t, "127.0.0.1:8000-8010", c.Server.Address)
	assert.Equal(t, 2*time.Second, c.Server.Timeout.D())
	assert.Equal(t, "local", c.Registry.Name)
	assert.Equal(t, 20*time.Second, c.Registry.TTL.D())
	assert.Equal(t, filepath.Join(dir, "wasm"), c.Plugins.Dir)
	assert.Equal(t, filepath.Join(dir, "wasm", "greeter.wasm"), c.Handlers[0].Path)
	assert.Equal(t, 3, c.Handlers[0].PoolSize)
	assert.Equal(t, int64(DefaultMaxBodyBytes), c.Server.MaxBodyBytes)
}

func TestOverridePrecedence(t *testing.T) {
	c, err := Load(write(t, good))
	require.NoError(t, err)
	env := map[string]string{
		"MICROHOST_SERVER_ADDRESS":   "127.0.0.1:9000",
		"MICROHOST_REGISTRY":         "local",
		"MICROHOST_REGISTRY_ADDRESS": "/tmp/env-reg",
	}
	c.Override(func(k string) string { return env[k] }, map[string]string{"registry_address": "/tmp/flag-reg"})
	require.NoError(t, c.Finish())
	assert.Equal(t, "127.0.0.1:9000", c.Server.Address)
	assert.Equal(t, "/tmp/flag-reg", c.Registry.Address, "a flag beats the environment")
}

func TestStrictErrors(t *testing.T) {
	cases := map[string]struct{ text, msg string }{
		"unknown key":        {good + "\n[server.extra]\nx = 1\n", "unknown key server.extra"},
		"unknown top key":    {"colour = 1\n" + good, "unknown key colour"},
		"bad duration":       {`[server]` + "\n" + `timeout = "soon"` + "\n", `invalid duration "soon"`},
		"wrong type":         {`[service]` + "\n" + `name = 5` + "\n", "service.name"},
		"syntax":             {"[service\n", "to end table name"},
		"missing name":       {"[[handler]]\nmodule = \"x\"\n", "service.name: is required"},
		"no handlers":        {"[service]\nname = \"x\"\n", "at least one [[handler]]"},
		"unknown registry":   {"[registry]\nname = \"zk\"\n" + "[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n", `unknown registry "zk"`},
		"interval above ttl": {"[registry]\nttl = \"5s\"\ninterval = \"10s\"\n[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n", "registry.interval"},
		"bad publishes":      {"[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\npublishes=[\"orders.**.x\"]\n", `handler[0].publishes[0]: pattern "orders.**.x": ** may only be the last segment`},
		"bad calls":          {"[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\ncalls=[\"a b\"]\n", `handler[0].calls[0]: "a b" is not a service`},
		"reply over header":  {"[server]\nmax_reply_header_bytes=70000\n[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n", "server.max_reply_header_bytes: 70000 must be smaller than transport.max_header_bytes 65536"},
		"bad log cap":        {"[plugins]\nlog_bytes_per_call=-2\n[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n", "plugins.log_bytes_per_call"},
		"bad sub publishes":  {"[service]\nname=\"x\"\n[[subscriber]]\ntopic=\"t\"\nmodule=\"m\"\npublishes=[\"\"]\n", `subscriber[0].publishes[0]`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := write(t, c.text)
			cfg, err := Load(path)
			if err == nil {
				cfg.Override(func(string) string { return "" }, nil)
				err = cfg.Finish()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
			assert.Contains(t, err.Error(), path, "the error names the file")
		})
	}
}

// TestServerAddressErrors requires a bad server.address to be a config error naming the file,
// the key and, when one set it, the environment variable or flag.
func TestServerAddressErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		env, flag, want string
	}{
		"reversed in the file": {want: `server.address: malformed address "127.0.0.1:9000-8000": reversed port range`},
		"bad port from env":    {env: "127.0.0.1:99999", want: `server.address (set by $MICROHOST_SERVER_ADDRESS): malformed address "127.0.0.1:99999": port "99999" out of range`},
		"bad port from flag":   {env: "127.0.0.1:1", flag: "x:y", want: `server.address (set by --server-address): malformed address "x:y"`},
	} {
		t.Run(name, func(t *testing.T) {
			path := write(t, strings.Replace(good, "127.0.0.1:8000-8010", "127.0.0.1:9000-8000", 1))
			c, err := Load(path)
			require.NoError(t, err)
			c.Override(func(k string) string {
				if k == "MICROHOST_SERVER_ADDRESS" {
					return tc.env
				}
				return ""
			}, map[string]string{"server_address": tc.flag})
			err = c.Finish()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config "+path+": "+tc.want)
		})
	}
}

func TestKeyError(t *testing.T) {
	c, err := Load(write(t, good))
	require.NoError(t, err)
	c.Override(func(string) string { return "" }, map[string]string{"server_address": "127.0.0.1:7"})
	base := errors.New("boom")
	err = c.KeyError("handler[0].module", base)
	assert.ErrorIs(t, err, base)
	assert.Contains(t, err.Error(), ": handler[0].module: boom")
	assert.Contains(t, c.KeyError("server.address", base).Error(), ": server.address (set by --server-address): boom")
}

// TestCapDefaults: the guest output caps default to the host's, and the reply headers' total
// to half of a smaller transport.max_header_bytes.
func TestCapDefaults(t *testing.T) {
	load := func(text string) *Config {
		t.Helper()
		c, err := Load(write(t, text))
		require.NoError(t, err)
		c.Override(func(string) string { return "" }, nil)
		require.NoError(t, c.Finish())
		return c
	}
	c := load("[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n")
	assert.Equal(t, DefaultMaxReplyHeaders, c.Server.MaxReplyHeaders)
	assert.Equal(t, DefaultMaxReplyHeaderBytes, c.Server.MaxReplyHeaderBytes)
	assert.Equal(t, DefaultLogBytesPerCall, c.Plugins.LogBytesPerCall)
	assert.Equal(t, DefaultLogBytesPerSecond, c.Plugins.LogBytesPerSecond)
	c = load("[transport]\nmax_header_bytes=8192\n[plugins]\nlog_bytes_per_second=-1\n[service]\nname=\"x\"\n[[handler]]\nmodule=\"m\"\n")
	assert.Equal(t, 4096, c.Server.MaxReplyHeaderBytes)
	assert.Equal(t, -1, c.Plugins.LogBytesPerSecond)
}
