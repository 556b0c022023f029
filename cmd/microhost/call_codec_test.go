package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/handlers/greeter/greeterpb"
	"github.com/microhost/microhost/internal/guestbuild"
)

// `microhost call --content-type` speaks every stock codec: JSON bodies on the command line,
// protobuf bodies from a file or stdin, binary replies as raw bytes.
func TestCallContentTypes(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, writeConfig(t, ""), env...)

	for _, ct := range []string{"application/json", "application/json-rpc"} {
		out, errOut, code := cli(t, env, "call", "--content-type", ct, "--address", srv.addr, "greeter", "Greeter.Hello", `{"name":"John"}`)
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "{\"greeting\":\"Hello John\"}\n", out, ct)
		_, errOut, code = cli(t, env, "call", "--content-type", ct, "greeter", "Greeter.Hello", `{"name":""}`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, `"detail":"name is required"`, ct)
	}

	req, err := (&greeterpb.HelloRequest{Name: "John"}).MicrohostAppendProto(nil)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "req.pb")
	require.NoError(t, os.WriteFile(file, req, 0o644))
	for _, ct := range []string{"application/protobuf", "application/proto-rpc", "application/octet-stream"} {
		out, errOut, code := cli(t, env, "call", "--content-type", ct, "--body-file", file, "greeter", "Greeter.Hello")
		require.Equal(t, 0, code, errOut)
		rsp := new(greeterpb.HelloResponse)
		require.NoError(t, rsp.MicrohostDecodeProto([]byte(out)), ct)
		assert.Equal(t, "Hello John", rsp.GetGreeting(), ct)
		// No body is the empty message, which the greeter refuses.
		_, errOut, code = cli(t, env, "call", "--content-type", ct, "greeter", "Greeter.Hello")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, `"code":400`, ct)
	}

	_, errOut, code := cli(t, env, "call", "--content-type", "application/protobuf", "greeter", "Greeter.Hello", "text")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--body-file")
	_, errOut, code = cli(t, env, "call", "--content-type", "text/plain", "greeter", "Greeter.Hello", "hi")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "415")
}

// A config that asks for Wasm codecs the plugin folder lacks fails to start, naming the file.
func TestWasmCodecMissing(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	_, errOut, code := cli(t, env, "run", writeConfig(t, "\n[codec]\nmode = \"wasm\"\n"))
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "json-codec.wasm")
}

// The case: jsonrpc-codec.wasm copied over json-codec.wasm is refused at start-up,
// naming both, instead of failing every JSON call with "malformed JSON-RPC request".
func TestWrongCodecFileRefused(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"greeter.wasm", "testguest.wasm"} {
		raw, err := os.ReadFile(filepath.Join(pluginDir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), raw, 0o644))
	}
	rpc, err := guestbuild.Go(context.Background(), "./plugins/jsonrpc-codec/wasm", t.TempDir())
	require.NoError(t, err)
	raw, err := os.ReadFile(rpc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "json-codec.wasm"), raw, 0o644))
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir(), "MICROHOST_PLUGIN_DIR=" + dir}
	_, errOut, code := cli(t, env, "run", writeConfig(t, ""))
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `"jsonrpc-codec"`)
	assert.Contains(t, errOut, `"json-codec"`)
	t.Log(errOut)
}
