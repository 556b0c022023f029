package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdminAndTracing(t *testing.T) {
	c, err := finishText(t, registryService)
	require.NoError(t, err)
	assert.Equal(t, DefaultAdminAddress, c.Admin.Address, "on by default, on the loopback")
	assert.True(t, c.Admin.MetricsOn())
	assert.Equal(t, "off", c.Tracing.Exporter)

	c, err = finishText(t, registryService+"[admin]\naddress=\"127.0.0.1:9464-9470\"\nmetrics=false\n[tracing]\nexporter=\"otlp\"\nendpoint=\"http://127.0.0.1:4318/\"\n")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9464-9470", c.Admin.Address)
	assert.False(t, c.Admin.MetricsOn())
	assert.Equal(t, "http://127.0.0.1:4318", c.Tracing.Endpoint, "a trailing slash is dropped")

	c, err = finishText(t, registryService+"[admin]\naddress=\"off\"\n")
	require.NoError(t, err)
	assert.False(t, c.Admin.MetricsOn(), "no listener, no metrics")

	for text, key := range map[string]string{
		"[admin]\naddress=\"127.0.0.1:99999\"\n":                 "admin.address",
		"[tracing]\nexporter=\"jaeger\"\n":                       "tracing.exporter",
		"[tracing]\nexporter=\"otlp\"\n":                         "tracing.endpoint",
		"[tracing]\nexporter=\"otlp\"\nendpoint=\"127.0.0.1\"\n": "tracing.endpoint",
	} {
		_, err := finishText(t, registryService+text)
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		assert.Contains(t, err.Error(), key, text)
	}

	// The flag and the environment variable override the file, and a bad value names them.
	c, err = Load(write(t, registryService))
	require.NoError(t, err)
	c.Override(func(k string) string {
		if k == "MICROHOST_ADMIN_ADDRESS" {
			return "127.0.0.1:x"
		}
		return ""
	}, nil)
	err = c.Finish()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "admin.address (set by $MICROHOST_ADMIN_ADDRESS)")
}
