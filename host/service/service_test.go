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
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
)

var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "microhost-service-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	if _, err := guestbuild.Go(context.Background(), "./handlers/greeter", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = testCompilations.Close(context.Background())
	os.RemoveAll(dir)
	os.Exit(code)
}

// testCompilations holds the compiled modules of the services the tests start, shared by
// them all, and keeps those no module uses: the tests start the same few modules again and
// again, each load from the compilation cache a few tenths of a CPU-second under the race
// detector. A test of when compiled code is released gives its service none.
var testCompilations = host.NewCompilations(24)

func greeterConfig(t testing.TB, regDir string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = "greeter"
version = "1.0.0"
[server]
address = "127.0.0.1:0"
[registry]
address = %q
ttl = "2s"
interval = "100ms"
[plugins]
dir = %q
cache_dir = %q
[[handler]]
module = "greeter"
`, regDir, pluginDir, host.DefaultCacheDir())
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	cfg.Override(func(string) string { return "" }, nil)
	require.NoError(t, cfg.Finish())
	return cfg
}

// start runs a greeter service until the test ends and returns it with its registry.
func start(t testing.TB) (*Service, *localregistry.Registry) {
	t.Helper()
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, greeterConfig(t, regDir), Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = svc.Close(context.Background())
	})
	return svc, reg
}

// Services given the same Compilations share their compiled modules: the code of a closed
// service's modules is kept, and a second service of the same modules compiles nothing.
func TestServicesShareCompilations(t *testing.T) {
	ctx := context.Background()
	shared := host.NewCompilations(8)
	defer shared.Close(ctx)
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	deps := Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: shared}
	first, err := New(ctx, greeterConfig(t, regDir), deps)
	require.NoError(t, err)
	held := shared.Held()
	require.Positive(t, held, "the service's modules are compiled in the Compilations given")
	require.NoError(t, first.Close(ctx))
	assert.Equal(t, held, shared.Held(), "the closed service's code is kept")

	second, err := New(ctx, greeterConfig(t, regDir), deps)
	require.NoError(t, err)
	defer second.Close(ctx)
	assert.Equal(t, held, shared.Held(), "the second service compiled nothing of its own")
	for _, m := range second.modules {
		assert.True(t, m.CacheHit(), m.Path())
	}
}

func TestRegistersRefreshesAndDeregisters(t *testing.T) {
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := greeterConfig(t, regDir)
	// The service's metadata is registered with it and labels its node; the node's own keys
	// win.
	cfg.Service.Metadata = map[string]string{"zone": "east", "transport": "pigeon"}
	svc, err := New(ctx, cfg, Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	require.Eventually(t, func() bool {
		got, err := reg.GetService(ctx, "greeter")
		return err == nil && len(got[0].Nodes) == 1 && got[0].Nodes[0].Address == svc.Addr()
	}, 5*time.Second, 10*time.Millisecond)
	got, err := reg.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Equal(t, []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"}}, got[0].Endpoints)
	assert.Equal(t, "east", got[0].Metadata["zone"])
	assert.Equal(t, map[string]string{"zone": "east", "transport": "http", "protocol": "mucp", "registry": "local", "server": "microhost"}, got[0].Nodes[0].Metadata)

	// The TTL is 2 s and the interval 100 ms: the entry outlives several TTLs only if it is
	// refreshed. Poll until well past one TTL and require it to stay.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_, err := reg.GetService(ctx, "greeter")
		require.NoError(t, err, "registration lapsed despite refreshes")
		time.Sleep(50 * time.Millisecond)
	}

	reply, err := client.New(reg, client.Options{Codecs: stockCodecs()}).Call(ctx, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"Reg"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"greeting":"Hello Reg"}`, string(reply))

	cancel()
	require.NoError(t, <-done)
	require.NoError(t, svc.Close(context.Background()))
	_, err = reg.GetService(context.Background(), "greeter")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
}

func TestNewUndoesOnFailure(t *testing.T) {
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	cfg := greeterConfig(t, regDir)
	cfg.Handlers = append(cfg.Handlers, config.Handler{Module: "greeter", Path: cfg.Handlers[0].Path})
	_, err = New(context.Background(), cfg, Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "endpoint Greeter.Hello is served by two modules")
}

// BenchmarkGreeterLoopback is a greeter call end to end: client → HTTP over loopback →
// server → Wasm handler → reply, on a kept-alive connection.
func BenchmarkGreeterLoopback(b *testing.B) {
	svc, _ := start(b)
	c := client.New(nil, client.Options{Codecs: stockCodecs()})
	req := &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"John"}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CallAddress(ctx, svc.Addr(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGreeterLoopbackParallel is the same from GOMAXPROCS×4 concurrent callers.
func BenchmarkGreeterLoopbackParallel(b *testing.B) {
	svc, _ := start(b)
	c := client.New(nil, client.Options{Codecs: stockCodecs()})
	req := &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"John"}`)}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := c.CallAddress(ctx, svc.Addr(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// testDeps returns the service's dependencies for a test: reg, the stock catalogue and a
// discarded log.
func testDeps(t testing.TB, reg Registrar) Deps {
	t.Helper()
	return Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations}
}
