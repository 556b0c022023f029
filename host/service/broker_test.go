package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
	"github.com/microhost/microhost/plugins/standard"
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
publishes = ["events"]
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

	svc, err := service.New(ctx, cfg, service.Deps{Registry: reg, Catalogue: catalogue(t), Compilations: service.SharedCompilations})
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
	pub, err := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}})
	require.NoError(t, err)
	defer pub.Close(ctx)
	for range 5 {
		n, err := pub.PublishCount(ctx, "events", &broker.Message{Body: []byte(`{"from":"go"}`)})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}
	// From the publisher handler, through the publish host function.
	c := client.New(reg, client.Options{Timeout: 5 * time.Second, Codecs: codec.NativeRegistry(catalogue(t))})
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
	_, err = service.New(ctx, cfg, service.Deps{Registry: reg, Catalogue: catalogue(t), Compilations: service.SharedCompilations})
	require.ErrorContains(t, err, `does not subscribe to topic "nope"`)
}

// catalogue returns the stock catalogue, with no stock digest recorded.
func catalogue(t *testing.T) *component.Catalogue {
	t.Helper()
	c, err := standard.Catalogue("")
	require.NoError(t, err)
	return c
}

// TestBrokerChoosesItsTwin checks that the broker's twin is chosen by the [broker] mode, as
// every component's is, and that the choice is logged.
func TestBrokerChoosesItsTwin(t *testing.T) {
	ctx := context.Background()
	build := t.TempDir()
	_, err := guestbuild.Go(ctx, "./handlers/subscriber", build)
	require.NoError(t, err)
	stock, err := guestbuild.Go(ctx, "./plugins/http-broker/wasm", build)
	require.NoError(t, err)
	digest, err := component.Digest(stock)
	require.NoError(t, err)
	broken, err := guestbuild.WAT(ctx, "./internal/conformance/testdata/broken-broker.wat", build)
	require.NoError(t, err)

	cases := []struct {
		name, mode, file string // file: what http-broker.wasm is ("" for none)
		stockDigest      bool   // whether the catalogue records the digest of the build as stock
		runs, err        string
	}{
		{name: "auto, no module file", mode: "auto", runs: "runs=native"},
		{name: "auto, the stock build", mode: "", file: stock, stockDigest: true, runs: "runs=native"},
		{name: "auto, a build that is not the stock one", mode: "auto", file: stock, runs: "runs=wasm"},
		{name: "native", mode: "native", file: stock, runs: "runs=native"},
		{name: "wasm", mode: "wasm", file: stock, stockDigest: true, runs: "runs=wasm"},
		{name: "wasm, no file", mode: "wasm", err: "mode is wasm but the module cannot be read"},
		{name: "wasm, a module of another name", mode: "wasm", file: broken,
			err: `it declares itself the broker "broken-broker", not "http-broker"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, copyFile(filepath.Join(build, "subscriber.wasm"), filepath.Join(dir, "subscriber.wasm")))
			if c.file != "" {
				require.NoError(t, copyFile(c.file, filepath.Join(dir, "http-broker.wasm")))
			}
			path := filepath.Join(t.TempDir(), "config.toml")
			require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
[service]
name = "s"
[plugins]
dir = %q
cache_dir = %q
[broker]
mode = %q
[[subscriber]]
topic = "events"
module = "subscriber"
`, dir, host.DefaultCacheDir(), c.mode), 0o644))
			cfg, err := config.Load(path)
			require.NoError(t, err)
			require.NoError(t, cfg.Finish())
			reg, err := localregistry.New(t.TempDir())
			require.NoError(t, err)
			cat := catalogue(t)
			if c.stockDigest {
				cat.AddStockDigest("http-broker", digest)
			}
			var log bytes.Buffer
			svc, err := service.New(ctx, cfg, service.Deps{Registry: reg, Catalogue: cat,
				Logger: slog.New(slog.NewTextHandler(&log, nil)), Compilations: service.SharedCompilations})
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			defer svc.Close(ctx)
			assert.Contains(t, log.String(), "component=broker name=http-broker "+c.runs, log.String())
		})
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
