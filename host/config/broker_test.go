package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrokerAndSubscribers(t *testing.T) {
	path := write(t, `
[service]
name = "counter"
[plugins]
dir = "wasm"
[broker]
address = "127.0.0.1:9100-9199"
mode = "wasm"
retry_for = "2s"
[[subscriber]]
topic = "events"
queue = "workers"
module = "subscriber"
pool_size = 2
`)
	c, err := Load(path)
	require.NoError(t, err)
	c.Override(func(k string) string {
		if k == "MICROHOST_BROKER_ADDRESS" {
			return "127.0.0.1:9200-9299"
		}
		return ""
	}, nil)
	require.NoError(t, c.Finish(), "a service of subscribers only needs no [[handler]]")
	dir := filepath.Dir(path)
	assert.Equal(t, "127.0.0.1:9200-9299", c.Broker.Address, "the environment overrides the broker address")
	assert.Equal(t, "wasm", c.Broker.Mode)
	assert.Equal(t, filepath.Join(dir, "wasm", "http-broker.wasm"), c.Broker.Path)
	assert.Equal(t, 2*time.Second, c.Broker.RetryFor.D())
	assert.Equal(t, DefaultBackoff, c.Broker.Backoff)
	require.Len(t, c.Subscribers, 1)
	assert.Equal(t, filepath.Join(dir, "wasm", "subscriber.wasm"), c.Subscribers[0].Path)
	assert.Equal(t, "workers", c.Subscribers[0].Queue)
}

func TestBrokerDefaults(t *testing.T) {
	c, err := Load(write(t, good))
	require.NoError(t, err)
	require.NoError(t, c.Finish())
	assert.Equal(t, DefaultBrokerAddress, c.Broker.Address)
	assert.Equal(t, "auto", c.Broker.Mode, "the broker chooses its twin as every component does")
	assert.Equal(t, "http-broker", c.Broker.Module)
	assert.Equal(t, DefaultRetryFor, c.Broker.RetryFor)
	assert.Equal(t, DefaultBrokerTimeout, c.Broker.Timeout)
}

func TestBrokerErrors(t *testing.T) {
	cases := map[string]struct{ text, msg string }{
		"bad mode":      {good + "[broker]\nmode = \"fast\"\n", `broker.mode: unknown mode "fast"`},
		"no topic":      {good + "[[subscriber]]\nmodule = \"s\"\n", "subscriber[0].topic: is required"},
		"spaced topic":  {good + "[[subscriber]]\ntopic = \"a b\"\nmodule = \"s\"\n", "may not contain white space"},
		"no module":     {good + "[[subscriber]]\ntopic = \"a\"\n", "subscriber[0].module: is required"},
		"unknown key":   {good + "[[subscriber]]\ntopic = \"a\"\nmodule = \"s\"\ngroup = \"g\"\n", "unknown key subscriber.group"},
		"bad retry_for": {good + "[broker]\nretry_for = \"later\"\n", `invalid duration "later"`},
		"broker option": {good + "[broker.options]\nfast = true\n", "unknown key broker.options.fast"},
		"broker pool":   {good + "[broker]\npool_size = -2\n", "broker.pool_size: must not be negative"},
		"broker module": {good + "[broker]\nmodule = \"a/b\"\n", "broker.module"},
		"negative pool": {good + "[[subscriber]]\ntopic = \"a\"\nmodule = \"s\"\npool_size = -1\n", "subscriber[0].pool_size"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(write(t, c.text))
			if err == nil {
				err = cfg.Finish()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}
