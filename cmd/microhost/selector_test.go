package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/selector"
)

// whoHandler assembles a handler serving Greeter.Hello that answers {"greeting":"<who>"}, so
// that a reply tells which node made it.
func whoHandler(t *testing.T, who string) string {
	t.Helper()
	dir := t.TempDir()
	desc := `{"kind":"handler","name":"who","version":"1.0.0","endpoints":[{"name":"Greeter.Hello"}]}`
	reply := fmt.Sprintf(`{"greeting":%q}`, who)
	wat := fmt.Sprintf(`(module
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) %q)
  (data (i32.const 256) %q)
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const %d))
  (func (export "microhost_handle") (param i32 i32) (result i32)
    (call $response_body (i32.const 256) (i32.const %d))
    (i32.const 0)))
`, desc, reply, len(desc), len(reply))
	src := filepath.Join(dir, who+".wat")
	require.NoError(t, os.WriteFile(src, []byte(wat), 0o644))
	out, err := guestbuild.WAT(context.Background(), src, dir)
	if err != nil {
		t.Skip(err)
	}
	return out
}

// whoConfig writes the config of a greeter node answering as who.
func whoConfig(t *testing.T, who string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "greeter"
version = "1.0.0"

[server]
address = "127.0.0.1:0"

[plugins]
dir = %q

[[handler]]
path = %q
`, pluginDir, whoHandler(t, who)), 0o644))
	return path
}

// lastSelectorDir returns a plugin folder holding last-selector.wasm, the selector written in
// WAT from abi/selector.md.
func lastSelectorDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := guestbuild.WAT(context.Background(), "internal/selector/testdata/last-selector.wat", dir); err != nil {
		t.Skip(err)
	}
	return dir
}

// threeNodes starts three greeter nodes answering as node-a, node-b and node-c, and returns
// the registry's environment and who answers at the node the last selector picks: the last
// of the registry's nodes.
func threeNodes(t *testing.T) (env []string, want string) {
	t.Helper()
	regDir := t.TempDir()
	env = []string{"MICROHOST_REGISTRY_ADDRESS=" + regDir}
	byAddr := map[string]string{}
	for _, who := range []string{"node-a", "node-b", "node-c"} {
		s := startServer(t, whoConfig(t, who), env...)
		byAddr[s.addr] = who
	}
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	var nodes []selector.Node
	require.Eventually(t, func() bool {
		svcs, err := reg.GetService(context.Background(), "greeter")
		nodes = selector.Flatten(svcs)
		return err == nil && len(nodes) == 3
	}, 10*time.Second, 10*time.Millisecond)
	want = byAddr[nodes[len(nodes)-1].Address]
	require.NotEmpty(t, want)
	return env, want
}

// TestCallWithAWasmSelector drops the WAT selector into the plugin folder and calls through
// it: every call reaches the node it picks, while the stock selector spreads the calls; a
// selector with no native twin cannot run native.
func TestCallWithAWasmSelector(t *testing.T) {
	selDir := lastSelectorDir(t)
	env, want := threeNodes(t)
	env = append(env, "MICROHOST_PLUGIN_DIR="+selDir)
	for i := range 6 {
		args := []string{"call", "--selector", "last-selector", "greeter", "Greeter.Hello"}
		callEnv := env
		if i%2 == 1 {
			args = []string{"call", "greeter", "Greeter.Hello"}
			callEnv = append(append([]string(nil), env...), "MICROHOST_SELECTOR=last-selector")
		}
		out, errOut, code := cli(t, callEnv, args...)
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, fmt.Sprintf(`{"greeting":%q}`, want), strings.TrimSpace(out), "call %d", i)
	}
	out, errOut, code := cli(t, env, "call", "--selector", "last-selector", "--selector-mode", "wasm", "--version", "2.0.0", "greeter", "Greeter.Hello")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, errOut, "no node available")
	assert.Contains(t, errOut, `no node has version "2.0.0"`)

	// The stock selector (no random-selector.wasm in the folder: its native twin) spreads.
	seen := map[string]bool{}
	for range 12 {
		out, errOut, code := cli(t, env, "call", "greeter", "Greeter.Hello")
		require.Equal(t, 0, code, errOut)
		seen[strings.TrimSpace(out)] = true
	}
	assert.Greater(t, len(seen), 1, "random choices over three nodes")

	_, errOut, code = cli(t, env, "call", "--selector", "last-selector", "--selector-mode", "native", "greeter", "Greeter.Hello")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `selector "last-selector" has no native twin (native twins: random-selector)`)
	_, errOut, code = cli(t, env, "call", "--selector-mode", "fast", "greeter", "Greeter.Hello")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--selector-mode: unknown mode "fast"`)
	_, errOut, code = cli(t, env, "call", "--selector", "nowhere-selector", "greeter", "Greeter.Hello")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `selector "nowhere-selector": no module at`)
}

// TestRunWithAWasmSelector serves the api handler with [selector] naming the WAT selector:
// the service logs that its selector runs Wasm, and Api.Greet's call of the greeter reaches
// the node the selector picks, every time.
func TestRunWithAWasmSelector(t *testing.T) {
	selDir := lastSelectorDir(t)
	env, want := threeNodes(t)
	api, err := guestbuild.Go(context.Background(), "./handlers/api", t.TempDir())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "api.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "api"

[server]
address = "127.0.0.1:0"

[plugins]
dir = %q

[selector]
module = "last-selector"
path = %q

[selector.options]
mark_period = "5s"

[[handler]]
path = %q
calls = ["greeter"]
`, pluginDir, filepath.Join(selDir, "last-selector.wasm"), api), 0o644))
	s := startServer(t, path, env...)
	assert.Regexp(t, `msg=component component=selector name=last-selector runs=wasm why="no native twin of that name"`, s.logs.String())
	for i := range 5 {
		out, errOut, code := cli(t, env, "call", "api", "Api.Greet", `{"name":"x"}`)
		require.Equal(t, 0, code, errOut)
		assert.JSONEq(t, fmt.Sprintf(`{"message":%q,"from":"greeter"}`, want), out, "call %d", i)
	}

	// A [selector.options] key the selector does not know stops the service at start.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	require.NoError(t, os.WriteFile(bad, fmt.Appendf(nil, `
[service]
name = "api"

[plugins]
dir = %q

[selector.options]
stratgy = "random"

[[handler]]
path = %q
`, pluginDir, api), 0o644))
	_, errOut, code := cli(t, env, "run", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unknown key selector.options.stratgy")
}

// TestCallSelectorStaysNative checks that a one-shot call with the stock selector starts no
// Wasm runtime: with no module file, or with the stock build of it (here a file that is not
// even Wasm, recorded as the stock digest), the native twin runs.
func TestCallSelectorStaysNative(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		if k == "MICROHOST_PLUGIN_DIR" {
			return dir
		}
		return ""
	}
	open := func() (*selector.Selector, *lazyRuntime) {
		var f selectorFlags
		require.NoError(t, f.resolve(getenv))
		sel, loader, err := f.open(context.Background(), "", getenv)
		require.NoError(t, err)
		t.Cleanup(func() { closeSelector(context.Background(), sel, loader) })
		return sel, loader
	}
	_, loader := open()
	assert.False(t, loader.started(), "no module file: native")

	file := filepath.Join(dir, "random-selector.wasm")
	require.NoError(t, os.WriteFile(file, []byte("stock build"), 0o644))
	digest, err := component.Digest(file)
	require.NoError(t, err)
	saved := stockDigests
	stockDigests = "random-selector=" + digest
	t.Cleanup(func() { stockDigests = saved })
	sel, loader := open()
	assert.False(t, loader.started(), "the stock build: native")
	n, err := sel.Select(context.Background(), "greeter", []selector.Node{{ID: "a"}, {ID: "b"}}, selector.Filter{})
	require.NoError(t, err)
	assert.Contains(t, []string{"a", "b"}, n.ID)
}
