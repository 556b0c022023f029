package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// precompile puts wasm in the shared compilation cache, so that the swaps under load measure
// the swap, not a cold compile on a busy machine.
func precompile(t *testing.T, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.LoadBytes(ctx, "precompiled.wasm", wasm, host.ModuleOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Close(ctx))
}

// Each component kind swapped 5 times under load, in mode auto (the default): from its
// native twin to another build (Wasm), to a third build, back to the second, to the third
// again, and back to the stock build (the twin) — every transition there is: twin to module,
// module to module through the same adapter as in mode wasm, module to twin. The load: calls
// through the server (transport framer, codec), calls through the service's client
// (registry, selector, the client framer) and publications through its broker, with no
// failed call, no lost publication and no moment the service is missing from the registry.
func TestLiveSwapComponentsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 25 swaps of rebuilt Go modules under load")
	}
	ctx := context.Background()
	dir := t.TempDir()
	plugins := map[component.Kind]string{
		component.KindCodec:     "json-codec",
		component.KindSelector:  "random-selector",
		component.KindTransport: "http-transport",
		component.KindBroker:    "http-broker",
		component.KindRegistry:  "local-registry",
	}
	builds := map[component.Kind][]byte{}
	for kind, name := range plugins {
		out, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", filepath.Join(t.TempDir(), name))
		require.NoError(t, err)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		builds[kind] = b
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".wasm"), b, 0o644))
		for n := 1; n <= guestbuild.SwapVariants; n++ {
			precompile(t, guestbuild.Variant(b, n))
		}
	}
	cat := stockCatalogue(t)
	for kind, name := range plugins {
		cat.AddStockDigest(name, wasmcomponent.Digest(builds[kind]))
	}
	greeter, err := os.ReadFile(filepath.Join(pluginDir, "greeter.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greeter.wasm"), greeter, 0o644))

	regDir := t.TempDir()
	var logs logbuffer.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	svc := runWatched(t, fmt.Sprintf(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[registry]
module = "local-registry"
mode = "auto"
address = %[1]q
ttl = "2s"
interval = "100ms"
[plugins]
dir = %[2]q
cache_dir = %[3]q
[codec]
modules = ["json-codec"]
mode = "auto"
[selector]
mode = "auto"
[transport]
mode = "auto"
[broker]
mode = "auto"
address = "127.0.0.1:0"
[[handler]]
module = "greeter"
`, regDir, dir, host.DefaultCacheDir()), Deps{Catalogue: cat, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Compilations: testCompilations}, &logs)
	// current is the digest of the build serving a kind now: its module's, or the stock
	// build's while the native twin serves.
	require.Len(t, svc.autos, len(plugins), "every kind is in mode auto")
	current := map[component.Kind]func() string{}
	for _, a := range svc.autos {
		require.Nil(t, a.Module(), "%s starts on its native twin", a.Spec.Kind)
		stock := wasmcomponent.Digest(builds[a.Spec.Kind])
		current[a.Spec.Kind] = func() string {
			if m := a.Module(); m != nil {
				return m.Digest()
			}
			return stock
		}
	}
	require.Len(t, current, len(plugins), "every kind can be swapped")

	// Who watches the registry: a reader of the same folder, counting polls that miss the
	// service once it was seen.
	reader, err := localregistry.New(regDir)
	require.NoError(t, err)
	node := svc.Record().Nodes[0].ID
	registered := func() bool {
		svcs, err := reader.GetService(ctx, "greeter")
		if err != nil {
			return false
		}
		for _, s := range svcs {
			for _, n := range s.Nodes {
				if n.ID == node {
					return true
				}
			}
		}
		return false
	}
	require.Eventually(t, registered, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, svc.Broker().Start(ctx))
	var received atomic.Int64
	_, err = svc.Broker().Subscribe(ctx, "swaps", "", func(context.Context, *broker.Event) error {
		received.Add(1)
		return nil
	})
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed, published, gaps atomic.Int64
	var errMu sync.Mutex
	var errs []string
	fail := func(err error) {
		failed.Add(1)
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, err.Error())
		}
		errMu.Unlock()
	}
	deadline := time.Now().Add(8 * time.Minute)
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return time.Now().Before(deadline)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	// The callers pace themselves: about 600 calls and 200 publications a second under the
	// race detector, so that calls are in flight across the switches while the machine keeps
	// the time to prepare the next module (saturating both cores only slowed the swaps under
	// test, and the suite).
	pace := func() { time.Sleep(5 * time.Millisecond) }
	for range 4 { // through the server: transport framer and codec
		wg.Add(1)
		go func() {
			defer wg.Done()
			for running() {
				body, err := call(hc, svc.Addr(), "Greeter.Hello")
				if err == nil && !strings.Contains(body, "Hello") {
					err = fmt.Errorf("reply %s", body)
				}
				if err != nil {
					fail(err)
				} else {
					ok.Add(1)
				}
				pace()
			}
		}()
	}
	for range 2 { // through the service's client: registry, selector, client framer
		wg.Add(1)
		go func() {
			defer wg.Done()
			for running() {
				_, err := svc.Client().Call(ctx, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"c"}`)})
				if err != nil {
					fail(err)
				} else {
					ok.Add(1)
				}
				pace()
			}
		}()
	}
	wg.Add(2)
	go func() { // publications through the broker protocol
		defer wg.Done()
		for running() {
			if err := svc.Broker().Publish(ctx, "swaps", &broker.Message{Body: []byte(`{}`)}); err != nil {
				fail(err)
			} else {
				published.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	go func() { // the registration, without a gap
		defer wg.Done()
		for running() {
			if !registered() {
				gaps.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	require.Eventually(t, func() bool { return ok.Load() > 100 }, 10*time.Second, 5*time.Millisecond)
	for _, kind := range []component.Kind{component.KindCodec, component.KindTransport, component.KindSelector, component.KindBroker, component.KindRegistry} {
		file := filepath.Join(dir, plugins[kind]+".wasm")
		// From the twin to a build, to another, back, to the other again, back to the twin.
		stock := builds[kind]
		one, two := guestbuild.Variant(stock, 1), guestbuild.Variant(stock, 2)
		for i, b := range [][]byte{one, two, one, two, stock} {
			replace(t, file, b)
			want := wasmcomponent.Digest(b)
			require.Eventually(t, func() bool { return current[kind]() == want }, 60*time.Second, 5*time.Millisecond, "%s swap %d", kind, i)
			before := ok.Load()
			require.Eventually(t, func() bool { return ok.Load() > before+20 }, 90*time.Second, time.Millisecond, "%s swap %d: calls go on", kind, i)
		}
	}
	close(stop)
	wg.Wait()
	require.Eventually(t, func() bool { return received.Load() == published.Load() }, 10*time.Second, 5*time.Millisecond,
		"published %d, received %d", published.Load(), received.Load())

	assert.Zero(t, failed.Load(), "failed: %v", errs)
	assert.Zero(t, gaps.Load(), "polls that missed the registration")
	assert.Equal(t, 25, strings.Count(logs.String(), "msg=swapped"))
	t.Logf("%d calls, %d publications, 25 swaps", ok.Load(), published.Load())
}
