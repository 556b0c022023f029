package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/host/broker"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/localregistry"
	"github.com/microhost/microhost/internal/guestbuild"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// TestServicePubSub runs a service with a publishing handler and two subscribers (one in a
// queue group), publishes from outside and from the handler, and checks that stopping the
// service deregisters the subscribers.
func TestServicePubSub(t *testing.T) {
	for _, mode := range []string{"native", "wasm"} {
		t.Run(mode, func(t *testing.T) { testServicePubSub(t, mode) })
	}
}

func testServicePubSub(t *testing.T, mode string) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, pkg := range []string{"./handlers/subscriber", "./handlers/publisher"} {
		_, err := guestbuild.Go(ctx, pkg, dir)
		require.NoError(t, err)
	}
	_, err := guestbuild.Go(ctx, "./plugins/http-broker/wasm", dir)
	require.NoError(t, err)
	require.NoError(t, os.Rename(filepath.Join(dir, "wasm.wasm"), filepath.Join(dir, "http-broker.wasm")))

	regDir := t.TempDir()
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "events"
[registry]
address = %q
ttl = "2s"
interval = "100ms"
[plugins]
dir = %q
cache_dir = %q
[broker]
mode = %q
retry_for = "200ms"
[[handler]]
module = "publisher"
[[subscriber]]
topic = "events"
module = "subscriber"
[[subscriber]]
topic = "events"
queue = "workers"
module = "subscriber"
`, regDir, dir, host.DefaultCacheDir(), mode), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	require.NoError(t, cfg.Finish())
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)

	svc, err := New(ctx, cfg, testDeps(t, reg))
	require.NoError(t, err)
	defer svc.Close(ctx)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	require.Eventually(t, func() bool {
		svcs, err := reg.GetService(ctx, httpbroker.ServiceName)
		return err == nil && len(svcs) == 2 && len(svc.Subscriptions()) == 2
	}, 10*time.Second, 10*time.Millisecond, "both subscribers registered")
	subs := svc.Subscriptions()

	// From a Go program, through a broker of its own.
	pub, err := broker.New(broker.Options{Registry: reg})
	require.NoError(t, err)
	defer pub.Close(ctx)
	for range 5 {
		n, err := pub.PublishCount(ctx, "events", &broker.Message{Body: []byte(`{"from":"go"}`)})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}
	// From the publisher handler, through the publish host function.
	c := client.New(reg, client.Options{Timeout: 5 * time.Second})
	reply, err := c.Call(ctx, &client.Request{Service: "events", Endpoint: "Events.Publish", ContentType: "application/json",
		Body: []byte(`{"topic":"events","message":{"from":"handler"}}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"published":true}`, string(reply))
	assert.EqualValues(t, 6, subs[0].Received())
	assert.EqualValues(t, 6, subs[1].Received())

	// A refused message fails only that delivery; the reply says so.
	_, err = c.Call(ctx, &client.Request{Service: "events", Endpoint: "Events.Publish", ContentType: "application/json",
		Body: []byte(`{"topic":"events","message":{"reject":true}}`)})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.EqualValues(t, 502, ae.Code)

	stop()
	require.NoError(t, <-done)
	_, err = reg.GetService(ctx, httpbroker.ServiceName)
	require.ErrorIs(t, err, abi.ErrServiceNotFound, "the subscribers are deregistered on stop")
}

func TestSubscriberMustDeclareItsTopic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := guestbuild.Go(ctx, "./handlers/subscriber", dir)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "s"
[registry]
address = %q
[plugins]
dir = %q
cache_dir = %q
[[subscriber]]
topic = "nope"
module = "subscriber"
`, t.TempDir(), dir, host.DefaultCacheDir()), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	require.NoError(t, cfg.Finish())
	reg, err := localregistry.New(t.TempDir())
	require.NoError(t, err)
	_, err = New(ctx, cfg, testDeps(t, reg))
	require.ErrorContains(t, err, `does not subscribe to topic "nope"`)
}
