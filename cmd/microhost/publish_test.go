package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

func TestPublishToASubscriberService(t *testing.T) {
	_, err := guestbuild.Go(context.Background(), "./handlers/subscriber", pluginDir)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "counter"
[plugins]
dir = %q
[[subscriber]]
topic = "events"
module = "subscriber"
`, pluginDir), 0o644))
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, path, env...)
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "msg=subscribed") }, 30*time.Second, 10*time.Millisecond)

	out, errOut, code := cli(t, env, "publish", "events", `{"order":1}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "published to 1 subscriber\n", out)
	require.Eventually(t, func() bool {
		return strings.Contains(srv.logs.String(), `received events message 1`) && strings.Contains(srv.logs.String(), `{\"order\":1}`)
	}, 10*time.Second, 10*time.Millisecond, "the subscriber logged the message")

	// Metadata travels with the message as headers.
	out, errOut, code = cli(t, env, "publish", "--metadata", "X-Trace=t-42", "events", `{"order":2}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "published to 1 subscriber\n", out)
	require.Eventually(t, func() bool {
		return strings.Contains(srv.logs.String(), `trace t-42`) && strings.Contains(srv.logs.String(), `{\"order\":2}`)
	}, 10*time.Second, 10*time.Millisecond, "the subscriber logged the message with its metadata")
	_, errOut, code = cli(t, env, "publish", "--metadata", "Micro-Topic=other", "events")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "belong to the transport")

	out, errOut, code = cli(t, env, "publish", "--timeout", "5s", "orders")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "published to 0 subscribers\n", out, "nobody subscribes to orders here")

	_, errOut, code = cli(t, env, "publish", "events", `{not json`)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "not valid JSON")
	_, errOut, code = cli(t, env, "publish")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want TOPIC [BODY]")

	// The refused message is reported, with the subscriber's reason.
	_, errOut, code = cli(t, env, "publish", "--retry-for", "100ms", "events", `{"reject":true}`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "message refused")

	srv.stop(t, syscall.SIGTERM)
	out, errOut, code = cli(t, env, "publish", "events", `{}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "published to 0 subscribers\n", out, "the subscriber deregistered on shutdown")
}
