package service

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
)

// get fetches url and returns its status and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	rsp, err := http.Get(url)
	require.NoError(t, err)
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp.StatusCode, string(body)
}

// status is get's status alone, 0 when the request failed.
func status(url string) int {
	rsp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, rsp.Body)
	_ = rsp.Body.Close()
	return rsp.StatusCode
}

func TestAdminHealthMetricsPprofAndDrain(t *testing.T) {
	slowDir := t.TempDir()
	_, err := guestbuild.Go(context.Background(), "./host/service/testdata/slowguest", slowDir)
	require.NoError(t, err)

	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	cfg := greeterConfig(t, regDir)
	cfg.Handlers = append(cfg.Handlers, config.Handler{Module: "slow", Path: slowDir + "/slowguest.wasm"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := New(ctx, cfg, Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	admin := "http://" + svc.AdminAddr()
	require.True(t, strings.HasPrefix(svc.AdminAddr(), "127.0.0.1:"), "admin listens on the loopback by default, got %q", svc.AdminAddr())

	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	require.Eventually(t, func() bool { return status(admin+"/readyz") == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
	code, body := get(t, admin+"/livez")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)

	code, body = get(t, admin+"/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")

	c := client.New(reg, client.Options{Codecs: stockCodecs()})
	for range 3 {
		_, err := c.Call(ctx, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"Ann"}`)})
		require.NoError(t, err)
	}
	// Endpoints nobody serves are counted under one label value, whatever their names.
	for _, e := range []string{"Nope.One", "Nope.Two"} {
		_, err := c.CallAddress(ctx, svc.Addr(), &client.Request{Service: "greeter", Endpoint: e, Body: []byte(`{}`)})
		require.Error(t, err)
	}
	code, body = get(t, admin+"/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `rpc_server_call_duration_seconds_count{code="200",method="Greeter.Hello",service="greeter"} 3`)
	assert.Contains(t, body, `rpc_server_call_duration_seconds_count{code="404",method="other",service="greeter"} 2`)
	assert.NotContains(t, body, "Nope.One")
	assert.Contains(t, body, `microhost_module_calls_total{kind="handler",module="greeter"} 3`)
	assert.Contains(t, body, `microhost_module_instances{kind="handler",module="greeter",state="idle"}`)
	assert.Contains(t, body, `microhost_registry_registrations_total`)
	assert.Contains(t, body, `microhost_module_compile_cache_`)

	// A handler stopped at its deadline is counted, and listed among the recent faults.
	_, err = c.Call(ctx, &client.Request{Service: "greeter", Endpoint: "Slow.Wait", Body: []byte(`{"ms":5000}`)}, client.WithTimeout(200*time.Millisecond))
	require.Error(t, err)
	require.Eventually(t, func() bool {
		_, body := get(t, admin+"/metrics")
		return strings.Contains(body, `microhost_module_deadline_stops_total{kind="handler",module="slow"} 1`)
	}, 5*time.Second, 10*time.Millisecond)
	code, body = get(t, admin+"/api/status")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"type": "deadline stop"`)
	assert.Contains(t, body, `"name": "slow"`)

	// A request in flight holds the drain open: /readyz turns 503 at once, /livez stays 200.
	slow := make(chan error, 1)
	go func() {
		_, err := client.New(nil, client.Options{Codecs: stockCodecs()}).CallAddress(context.Background(), svc.Addr(),
			&client.Request{Service: "greeter", Endpoint: "Slow.Wait", Body: []byte(`{"ms":2000}`)}, client.WithTimeout(8*time.Second))
		slow <- err
	}()
	require.Eventually(t, func() bool { return svc.transport.InFlight() > 0 }, 5*time.Second, time.Millisecond)
	cancel()
	require.Eventually(t, func() bool { return status(admin+"/readyz") == http.StatusServiceUnavailable }, 5*time.Second, time.Millisecond)
	code, body = get(t, admin+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: draining\n", body)
	assert.Equal(t, http.StatusOK, status(admin+"/livez"), "livez stays up while draining")
	assert.Positive(t, svc.transport.InFlight(), "the slow request is still in flight")
	require.NoError(t, <-slow, "the request in flight finished during the drain")
	require.NoError(t, <-done)
	// The admin listener stops with Run.
	assert.Equal(t, 0, status(admin+"/livez"))
}

func TestAdminOff(t *testing.T) {
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	cfg := greeterConfig(t, regDir)
	cfg.Admin.Address = "off"
	svc, err := New(context.Background(), cfg, Deps{Registry: reg, Catalogue: stockCatalogue(t), Compilations: testCompilations})
	require.NoError(t, err)
	defer svc.Close(context.Background())
	assert.Empty(t, svc.AdminAddr())
	assert.Nil(t, svc.Telemetry(), "with the admin listener and tracing off, nothing is observed")
}
