package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/localregistry"
)

// greeterConfig writes the config of a greeter node of version.
func greeterConfig(t *testing.T, version string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = "greeter"
version = %q

[server]
address = "127.0.0.1:0"

[plugins]
dir = %q

[[handler]]
module = "greeter"
`, version, pluginDir)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// TestCallsSurviveSIGKILL kills one of two greeter processes in the middle of a loop of calls:
// the process cannot deregister, so the registry still lists it, yet every call succeeds
// (the try that hits the dead node is retried on the live one) and once marked the dead node
// is not chosen again.
func TestCallsSurviveSIGKILL(t *testing.T) {
	regDir := t.TempDir()
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + regDir}
	a := startServer(t, greeterConfig(t, "1.0.0"), env...)
	b := startServer(t, greeterConfig(t, "1.0.0"), env...)
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		svcs, err := reg.GetService(ctx, "greeter")
		return err == nil && len(svcs) == 1 && len(svcs[0].Nodes) == 2
	}, 10*time.Second, 10*time.Millisecond)

	c := client.New(reg, client.Options{Seed: 3, Codecs: stockCodecs()})
	defer c.Close()
	byAddr := map[string]int{}
	retried, afterKill := 0, 0
	for i := range 60 {
		if i == 20 {
			require.NoError(t, b.cmd.Process.Signal(syscall.SIGKILL))
			<-b.done
		}
		rsp, err := c.Do(ctx, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"K"}`)})
		require.NoError(t, err, "call %d", i)
		require.Equal(t, `{"greeting":"Hello K"}`, string(rsp.Body))
		byAddr[rsp.Node.Address]++
		if i >= 20 {
			require.Equal(t, a.addr, rsp.Node.Address, "call %d answered by the killed node", i)
			if rsp.Attempts > 1 {
				retried++
			} else {
				afterKill++
			}
		}
	}
	assert.Positive(t, byAddr[b.addr], "both nodes served before the kill")
	assert.Equal(t, 1, retried, "one try hit the dead node; from then on it was marked")
	assert.Equal(t, 40, retried+afterKill)
	// The registry still lists the killed node: the client, not the registry, stepped round it.
	svcs, err := reg.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Len(t, svcs[0].Nodes, 2)
}

func TestCallFlags(t *testing.T) {
	regDir := t.TempDir()
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + regDir}
	startServer(t, greeterConfig(t, "2.0.0"), env...)

	out, errOut, code := cli(t, env, "call", "--version", "2.0.0", "--strategy", "roundrobin", "--retries", "3", "greeter", "Greeter.Hello", `{"name":"V"}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\"greeting\":\"Hello V\"}\n", out)

	_, errOut, code = cli(t, env, "call", "--version", "1.0.0", "greeter", "Greeter.Hello", `{"name":"V"}`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no node available")

	_, errOut, code = cli(t, env, "call", "--strategy", "fastest", "greeter", "Greeter.Hello")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown strategy "fastest"`)

	_, errOut, code = cli(t, env, "call", "--retries", "-1", "greeter", "Greeter.Hello")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--retries must not be negative")
}

// TestCallMetadataAndLabels sends metadata with --metadata, which the handler reads as
// headers, and selects nodes by their metadata with --label.
func TestCallMetadataAndLabels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "labelled"
metadata = { zone = "east" }

[server]
address = "127.0.0.1:0"

[plugins]
dir = %q

[[handler]]
module = "testguest"
`, pluginDir), 0o644))
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	startServer(t, path, env...)

	// Test.Echo answers "content type|X-Trace|body"; raw bytes, so octet-stream.
	echo := func(flags ...string) (string, string, int) {
		args := append([]string{"call", "--content-type", "application/octet-stream", "--body-file", os.DevNull}, flags...)
		return cli(t, env, append(args, "labelled", "Test.Echo")...)
	}
	out, errOut, code := echo("--metadata", "X-Trace=abc", "--metadata", "X-Other=1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "application/octet-stream|abc|", out)
	out, errOut, code = echo()
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "application/octet-stream||", out, "no metadata unless asked")

	out, errOut, code = echo("--label", "zone=east")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "application/octet-stream||", out)
	_, errOut, code = echo("--label", "zone=west")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no node available")

	for _, c := range []struct{ flag, want string }{
		{"X-Trace", "want KEY=VALUE"},
		{"=v", "want KEY=VALUE"},
		{"Bad Key=v", "not a header name"},
		{"Micro-Id=1", "belong to the transport"},
		{"content-type=text/plain", "belongs to the transport"},
		{"X-Trace=a\nb", "control character"},
	} {
		_, errOut, code = cli(t, env, "call", "--metadata", c.flag, "labelled", "Test.Echo")
		assert.Equal(t, 2, code, c.flag)
		assert.Contains(t, errOut, c.want, c.flag)
	}
}
