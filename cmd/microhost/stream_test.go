package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

func TestCallStream(t *testing.T) {
	_, err := guestbuild.Go(context.Background(), "./handlers/counter", pluginDir)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "counter"
[server]
address = "127.0.0.1:0"
[plugins]
dir = %q
[[handler]]
module = "counter"
`, pluginDir), 0o644))
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, path, env...)

	t.Run("server streaming", func(t *testing.T) {
		out, errOut, code := cli(t, env, "call", "--stream", "counter", "Counter.Count", `{"count":5}`)
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n", out)
	})

	t.Run("by address", func(t *testing.T) {
		out, errOut, code := cli(t, nil, "call", "--stream", "--address", srv.addr, "counter", "Counter.Count", `{"count":2}`)
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "{\"n\":1}\n{\"n\":2}\n", out)
	})

	t.Run("bidirectional from stdin", func(t *testing.T) {
		cmd := exec.Command(binary, "call", "--stream", "counter", "Counter.Echo", "-")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader("{\"a\":1}\n\n{\"b\":[2,3]}\n  {\"c\":\"x\"}\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		assert.Equal(t, "{\"a\":1}\n{\"b\":[2,3]}\n{\"c\":\"x\"}\n", stdout.String())
	})

	t.Run("bad line of stdin", func(t *testing.T) {
		cmd := exec.Command(binary, "call", "--stream", "counter", "Counter.Echo", "-")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader("{\"a\":1}\nnot json\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 2, ee.ExitCode())
		assert.Contains(t, stderr.String(), "not valid JSON: not json")
	})

	t.Run("error midway", func(t *testing.T) {
		out, errOut, code := cli(t, env, "call", "--stream", "counter", "Counter.Count", `{"count":9,"fail_after":2}`)
		assert.Equal(t, 1, code)
		assert.Equal(t, "{\"n\":1}\n{\"n\":2}\n", out, "the messages before the error were printed")
		assert.Contains(t, errOut, "failing after 2 messages")
		assert.Contains(t, errOut, "409")
	})

	t.Run("usage", func(t *testing.T) {
		_, errOut, code := cli(t, env, "call", "--stream", "--content-type", "application/protobuf", "counter", "Counter.Count")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "--stream prints JSON lines")
		_, errOut, code = cli(t, env, "call", "--stream", "--body-file", "x.json", "counter", "Counter.Echo", "-")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "not both")
		_, errOut, code = cli(t, env, "call", "--stream", "counter", "Counter.Count", `{"count":-1}`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "count must be between 0 and 1000000")
	})

	t.Run("unknown endpoint", func(t *testing.T) {
		out, errOut, code := cli(t, env, "call", "--stream", "--address", srv.addr, "counter", "Counter.Nope", `{}`)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, errOut, "unknown endpoint Counter.Nope")
	})
}
