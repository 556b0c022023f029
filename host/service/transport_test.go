package service

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
)

var transportBuild struct {
	once sync.Once
	path string
	err  error
}

// transportWasm builds http-transport.wasm once for the package's tests.
func transportWasm(t *testing.T) string {
	t.Helper()
	transportBuild.once.Do(func() {
		dir := filepath.Join(pluginDir, "transport-build")
		transportBuild.path, transportBuild.err = guestbuild.Go(context.Background(), "./plugins/http-transport/wasm", dir)
	})
	require.NoError(t, transportBuild.err)
	return transportBuild.path
}

// serveGreeter runs the greeter service with the transport table set by edit and the stock
// digests digests, calls it once and returns the service's log.
func serveGreeter(t *testing.T, edit func(dir string, cfg *componentTable), digests func(*component.Catalogue)) (string, error) {
	t.Helper()
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	cfg := greeterConfig(t, regDir)
	dir := t.TempDir()
	tbl := &componentTable{Module: cfg.Transport.Module, Mode: cfg.Transport.Mode, Path: filepath.Join(dir, "http-transport.wasm")}
	edit(dir, tbl)
	cfg.Transport.Module, cfg.Transport.Mode, cfg.Transport.Path = tbl.Module, tbl.Mode, tbl.Path
	var logs logbuffer.Buffer // Run logs from its own goroutines
	deps := testDeps(t, reg)
	deps.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if digests != nil {
		digests(deps.Catalogue)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := New(ctx, cfg, deps)
	if err != nil {
		return logs.String(), err
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		_ = svc.Close(context.Background())
	}()
	c := client.New(nil, client.Options{Codecs: stockCodecs()})
	defer c.Close()
	reply, err := c.CallAddress(ctx, svc.Addr(), &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"Tx"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"greeting":"Hello Tx"}`, string(reply))
	// The service's own client frames through the same transport component.
	reply, err = svc.Client().CallAddress(ctx, svc.Addr(), &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"Self"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"greeting":"Hello Self"}`, string(reply))
	return logs.String(), nil
}

// componentTable is the part of the [transport] table the tests vary.
type componentTable struct{ Module, Mode, Path string }

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

func TestTransportTwinChoice(t *testing.T) {
	t.Run("auto without a module file runs native", func(t *testing.T) {
		logs, err := serveGreeter(t, func(string, *componentTable) {}, nil)
		require.NoError(t, err)
		assert.Contains(t, logs, "component=transport name=http-transport runs=native why=\"no module file\"")
	})
	t.Run("auto with the stock build runs native", func(t *testing.T) {
		wasm := transportWasm(t)
		digest, err := component.Digest(wasm)
		require.NoError(t, err)
		logs, err := serveGreeter(t, func(_ string, c *componentTable) { copyFile(t, wasm, c.Path) },
			func(cat *component.Catalogue) { cat.AddStockDigest("http-transport", digest) })
		require.NoError(t, err)
		assert.Contains(t, logs, "runs=native why=\"the module file is the stock build\"")
	})
	t.Run("auto with another build runs wasm", func(t *testing.T) {
		wasm := transportWasm(t)
		logs, err := serveGreeter(t, func(_ string, c *componentTable) { copyFile(t, wasm, c.Path) }, nil)
		require.NoError(t, err)
		assert.Contains(t, logs, "runs=wasm why=\"the module file is not the stock build\"")
	})
	t.Run("native", func(t *testing.T) {
		logs, err := serveGreeter(t, func(_ string, c *componentTable) { c.Mode = "native" }, nil)
		require.NoError(t, err)
		assert.Contains(t, logs, "runs=native why=\"mode native\"")
	})
	t.Run("wasm", func(t *testing.T) {
		wasm := transportWasm(t)
		logs, err := serveGreeter(t, func(_ string, c *componentTable) { c.Mode, c.Path = "wasm", wasm }, nil)
		require.NoError(t, err)
		assert.Contains(t, logs, "runs=wasm why=\"mode wasm\"")
	})
	t.Run("wasm without the file is an error", func(t *testing.T) {
		_, err := serveGreeter(t, func(_ string, c *componentTable) { c.Mode = "wasm" }, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mode is wasm but the module cannot be read")
	})
	t.Run("a module declaring another name is refused", func(t *testing.T) {
		broken, err := guestbuild.WAT(context.Background(), "internal/conformance/testdata/broken-transport.wat", t.TempDir())
		if err != nil {
			t.Skip(err)
		}
		_, err = serveGreeter(t, func(_ string, c *componentTable) { c.Mode, c.Path = "wasm", broken }, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"broken-transport"`)
		assert.Contains(t, err.Error(), `"http-transport"`)
	})
	t.Run("an unknown twin in native mode is an error", func(t *testing.T) {
		_, err := serveGreeter(t, func(_ string, c *componentTable) { c.Mode, c.Module = "native", "pigeon-transport" }, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `transport "pigeon-transport" has no native twin (native twins: http-transport)`)
	})
}
