package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/logbuffer"
)

// hostedTestguest serves the host's misbehaving test module, built from source, with a
// pool of one instance.
func hostedTestguest(t *testing.T, logs *logbuffer.Buffer) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	path, err := guestbuild.Go(ctx, "./internal/host/testdata/testguest", t.TempDir())
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir(), Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Load(ctx, path, host.ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(ctx) })
	s, err := New(Options{Name: "testguest", Codecs: stockCodecs(), Logger: logger}, m)
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// TestFaultsAreAnsweredWithoutInternals: a trapping handler's caller gets a short 500, the
// log keeps the guest's stack trace; a sleeping handler is answered 408 at its deadline; a
// request that found no free instance gets 503 naming the module.
func TestFaultsAreAnsweredWithoutInternals(t *testing.T) {
	var logs logbuffer.Buffer
	ts := hostedTestguest(t, &logs)
	call := func(endpoint, body string, timeout time.Duration) (*abi.Error, time.Duration) {
		hdr := map[string]string{"Micro-Endpoint": endpoint}
		if timeout > 0 {
			hdr["Timeout"] = strconv.FormatInt(timeout.Nanoseconds(), 10)
		}
		start := time.Now()
		rsp, _ := post(t, ts.URL, "application/json", hdr, []byte(body))
		if rsp.Header.Get("Micro-Error") == "" {
			return &abi.Error{}, time.Since(start)
		}
		return abi.ParseError(rsp.Header.Get("Micro-Error")), time.Since(start)
	}

	e, _ := call("Test.Trap", `{}`, 0)
	assert.Equal(t, int32(500), e.Code)
	assert.Equal(t, "handler for Test.Trap failed (the handler faulted; the service's log has the details)", e.Detail)
	assert.Contains(t, logs.String(), "wasm stack trace", "the log keeps the trace")

	e, took := call("Test.Sleep", `"1h"`, 300*time.Millisecond)
	assert.Equal(t, int32(408), e.Code, e.Detail)
	assert.Less(t, took, 400*time.Millisecond, "answered %v after a 300ms deadline", took)

	done := make(chan struct{})
	go func() {
		defer close(done)
		call("Test.Sleep", `"1h"`, 2*time.Second)
	}()
	require.Eventually(t, func() bool {
		e, _ := call("Test.Noop", `{}`, 100*time.Millisecond)
		return e.Code == 503
	}, 5*time.Second, 20*time.Millisecond)
	e, _ = call("Test.Noop", `{}`, 100*time.Millisecond)
	assert.Equal(t, "no free instance of testguest", e.Detail)
	<-done
	e, _ = call("Test.Noop", `{}`, 0)
	assert.Zero(t, e.Code, "the pool recovered: %s", e.Detail)
}
