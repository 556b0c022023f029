package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"version"}, &out, &errOut, func(string) string { return "" })
	require.Equal(t, 0, code, errOut.String())
	assert.Regexp(t, `(?m)^microhost \S+`, out.String())
	assert.Regexp(t, `(?m)^go +go1\.\d+`, out.String())
	assert.Regexp(t, `(?m)^wazero +v\d+\.\d+\.\d+`, out.String())
	assert.Contains(t, out.String(), fmt.Sprintf("abi       %d\n", abi.Version))
}

func TestLogFormatJSON(t *testing.T) {
	var buf bytes.Buffer
	logger, err := newLogger(&buf, "info", "json")
	require.NoError(t, err)
	logger.Info("loaded module", "path", "x.wasm", "code", "cache")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "one JSON object per line: %s", buf.String())
	assert.Equal(t, "loaded module", rec["msg"])
	assert.Equal(t, "cache", rec["code"])

	_, err = newLogger(&buf, "info", "xml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--log-format")
}
