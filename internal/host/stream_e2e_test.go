package host_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/server"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/internal/wasmcomponent"
	"github.com/microhost/microhost/plugins/standard"
)

// logBuffer collects log records as text.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// staticLookup finds one service at one address.
type staticLookup struct{ svc *abi.Service }

func (s staticLookup) GetService(_ context.Context, name string) ([]*abi.Service, error) {
	if name != s.svc.Name {
		return nil, abi.ErrServiceNotFound
	}
	return []*abi.Service{s.svc}, nil
}

// streamStack is the counter example served through the whole stack on 127.0.0.1: the
// Wasm handler, the server pipeline, the transport with a native or Wasm framer, and a
// client that finds the service by name.
type streamStack struct {
	addr   string
	client *client.Client
	pool   *transport.Client
	logs   *logBuffer
}

func startStreamStack(t testing.TB, counterWasm, transportWasm string) *streamStack {
	t.Helper()
	ctx := context.Background()
	logs := &logBuffer{}
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir(), Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Load(ctx, counterWasm, host.ModuleOptions{PoolSize: 4})
	require.NoError(t, err)
	srv, err := server.New(server.Options{Name: "counter", Timeout: 30 * time.Second, Codecs: stockCodecs()}, m)
	require.NoError(t, err)
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	twin, _ := cat.Twin(component.KindTransport, "http-transport")
	newFramer := twin.Native.(component.TransportTwin).NewFramer
	if transportWasm != "" {
		tm, err := wasmcomponent.Load(ctx, rt, wasmcomponent.Spec{Kind: component.KindTransport, Name: "http-transport", Path: transportWasm, Ops: component.TransportOps})
		require.NoError(t, err)
		newFramer = func() transport.Framer { return &transport.Wasm{Module: tm} }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := transport.NewServer(srv, transport.ServerOptions{NewFramer: newFramer})
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ln) }()
	pool := transport.NewClient(transport.ClientOptions{})
	st := &streamStack{addr: ln.Addr().String(), pool: pool, logs: logs}
	st.client = client.New(staticLookup{&abi.Service{Name: "counter", Version: "1.0.0", Nodes: []abi.Node{{ID: "counter-1", Address: st.addr}}}},
		client.Options{Codecs: stockCodecs(), Transport: pool, Timeout: 20 * time.Second})
	t.Cleanup(func() {
		_ = st.client.Close()
		_ = pool.Close()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = ts.Shutdown(sctx)
		<-done
	})
	return st
}

// TestStreamsEndToEnd runs the counter example through the whole stack with both framers.
func TestStreamsEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	counterWasm, err := guestbuild.Go(ctx, "./handlers/counter", dir)
	require.NoError(t, err)
	transportWasm, err := guestbuild.Go(ctx, "./plugins/http-transport/wasm", dir)
	require.NoError(t, err)
	for _, framer := range []string{"native", "wasm"} {
		t.Run(framer, func(t *testing.T) {
			tw := ""
			if framer == "wasm" {
				tw = transportWasm
			}
			st := startStreamStack(t, counterWasm, tw)
			t.Run("server streaming", func(t *testing.T) { testServerStreaming(t, st) })
			t.Run("bidirectional", func(t *testing.T) { testBidirectional(t, st) })
			t.Run("error midway", func(t *testing.T) { testErrorMidway(t, st) })
			t.Run("client gone", func(t *testing.T) { testClientGone(t, st) })
		})
	}
}

func testServerStreaming(t *testing.T, st *streamStack) {
	const n = 2000
	s, err := st.client.Stream(context.Background(), &client.Request{Service: "counter", Endpoint: "Counter.Count", Body: []byte(fmt.Sprintf(`{"count":%d}`, n))})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CloseSend())
	got := 0
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got++
		require.Equal(t, fmt.Sprintf(`{"n":%d}`, got), string(msg), "in order")
	}
	assert.Equal(t, n, got)
	assert.Equal(t, "counter-1", s.Node.ID)
}

func testBidirectional(t *testing.T, st *streamStack) {
	s, err := st.client.Stream(context.Background(), &client.Request{Service: "counter", Endpoint: "Counter.Echo"})
	require.NoError(t, err)
	defer s.Close()
	const n = 200
	// Send from one goroutine while receiving on this one.
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := s.Send([]byte(fmt.Sprintf(`{"i":%d}`, i))); err != nil {
				sent <- err
				return
			}
		}
		sent <- s.CloseSend()
	}()
	for i := range n {
		msg, err := s.Recv()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf(`{"i":%d}`, i), string(msg))
	}
	_, err = s.Recv()
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-sent)
}

func testErrorMidway(t *testing.T, st *streamStack) {
	idle := st.pool.Idle(st.addr)
	s, err := st.client.StreamAddress(context.Background(), st.addr, &client.Request{Service: "counter", Endpoint: "Counter.Count", Body: []byte(`{"count":10,"fail_after":3}`)})
	require.NoError(t, err)
	defer s.Close()
	for i := 1; i <= 3; i++ {
		msg, err := s.Recv()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf(`{"n":%d}`, i), string(msg))
	}
	_, err = s.Recv()
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(409), ae.Code)
	assert.Equal(t, "counter", ae.ID)
	assert.Contains(t, ae.Detail, "failing after 3 messages")
	require.Equal(t, idle+1, st.pool.Idle(st.addr), "the connection went back to the pool")

	// The pool hands out its newest connection first: the stream's serves a unary call.
	_, err = st.client.Call(context.Background(), &client.Request{Service: "counter", Endpoint: "Counter.Count", Body: []byte(`{"count":1}`)})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(400), ae.Code)
	assert.Contains(t, ae.Detail, "not a stream", "a unary call reached the handler, which wants a stream")
	assert.Equal(t, idle+1, st.pool.Idle(st.addr), "and came back")
}

func testClientGone(t *testing.T, st *streamStack) {
	baseline := runtime.NumGoroutine()
	before := strings.Count(st.logs.String(), "stream_send failed")
	s, err := st.client.Stream(context.Background(), &client.Request{Service: "counter", Endpoint: "Counter.Count", Body: []byte(`{"count":1000000}`)})
	require.NoError(t, err)
	for range 5 {
		_, err := s.Recv()
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	require.Eventually(t, func() bool {
		return strings.Count(st.logs.String(), "stream_send failed") > before
	}, 10*time.Second, 10*time.Millisecond, "the handler's send failed once the client was gone")
	assert.Contains(t, st.logs.String(), "code=499")
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > baseline; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The handler returned its instance: the module serves the next stream.
	testServerStreaming(t, st)
}

// BenchmarkStreamCount measures one message of Counter.Count through the whole stack: the
// Wasm handler's stream_send, the pipeline, the native framer, the client's Recv.
func BenchmarkStreamCount(b *testing.B) {
	ctx := context.Background()
	counterWasm, err := guestbuild.Go(ctx, "./handlers/counter", b.TempDir())
	require.NoError(b, err)
	st := startStreamStack(b, counterWasm, "")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := st.client.Stream(ctx, &client.Request{Service: "counter", Endpoint: "Counter.Count", Body: []byte(`{"count":1000}`)})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/msg")
}
