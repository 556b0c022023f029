package transport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/hosttest"
)

// testCompilations holds the compiled modules of the tests' runtimes, shared by them all,
// and keeps those no module uses: the tests load the same modules again and again, each load
// from the compilation cache a few tenths of a CPU-second or more under the race detector.
var testCompilations = host.NewCompilations(2)

func loadModule(t testing.TB) Caller {
	t.Helper()
	return moduleCaller{hosttest.Load(t, testCompilations, transportWasm, host.ModuleOptions{})}
}

// moduleCaller runs a transport module's operations as wasmcomponent.Module does.
type moduleCaller struct{ m *host.Module }

func (c moduleCaller) Call(ctx context.Context, op string, in []byte) ([]byte, error) {
	res, err := c.m.Call(ctx, &host.Request{Endpoint: op, ContentType: "application/protobuf", Body: in})
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

// echo answers with the endpoint header and the body.
type echo struct{ calls atomic.Int64 }

func (e *echo) ServeMessage(ctx context.Context, m *Message) *Reply {
	e.calls.Add(1)
	if m.Get("Micro-Endpoint") == "Slow.Call" {
		time.Sleep(200 * time.Millisecond)
	}
	return &Reply{Status: 200, Header: []component.TransportHeader{{Name: []byte("X-Endpoint"), Value: []byte(m.Get("Micro-Endpoint"))}}, Body: append([]byte("echo:"), m.Body...)}
}

func framers(t *testing.T, f func(t *testing.T, newFramer func() Framer)) {
	t.Run("native", func(t *testing.T) { f(t, func() Framer { return testNative() }) })
	t.Run("wasm", func(t *testing.T) {
		m := loadModule(t)
		f(t, func() Framer { return &Wasm{Module: m} })
	})
}

func serve(t *testing.T, h Handler, opts ServerOptions) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := NewServer(h, opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return s, ln.Addr().String()
}

func TestNetHTTPClientAndKeepAlive(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		_, addr := serve(t, &echo{}, ServerOptions{NewFramer: nf})
		var conns atomic.Int64
		tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			conns.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		for i := range 5 {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(fmt.Sprint(i)))
			req.Header.Set("Micro-Endpoint", "Greeter.Hello")
			rsp, err := hc.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(rsp.Body)
			rsp.Body.Close()
			assert.Equal(t, fmt.Sprintf("echo:%d", i), string(b))
			assert.Equal(t, "Greeter.Hello", rsp.Header.Get("X-Endpoint"))
		}
		assert.Equal(t, int64(1), conns.Load(), "one kept-alive connection")
	})
}

func TestClientPool(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		_, addr := serve(t, &echo{}, ServerOptions{NewFramer: nf})
		c := NewClient(ClientOptions{PoolSize: 2})
		defer c.Close()
		ctx := context.Background()
		big := bytes.Repeat([]byte("b"), 100000)
		for _, body := range [][]byte{[]byte("a"), big, nil} {
			rep, err := c.Call(ctx, addr, []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("X.Y")}}, body)
			require.NoError(t, err)
			assert.Equal(t, 200, rep.Status)
			assert.Equal(t, "echo:"+string(body), string(rep.Body))
			assert.Equal(t, 1, c.Idle(addr), "the connection went back to the pool")
		}
		// A deadline shorter than the handler cuts the call and drops the connection.
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.Call(tctx, addr, []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("Slow.Call")}}, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// Nothing listening: a transport failure.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		_, err = c.Call(ctx, dead, nil, nil)
		require.ErrorIs(t, err, ErrTransport)
	})
}

// rawExchange writes raw bytes and reads until the server closes the connection.
func rawExchange(t *testing.T, addr string, raw string) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b), time.Since(start)
}

func TestHostileInput(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		base := runtime.NumGoroutine()
		_, addr := serve(t, &echo{}, ServerOptions{NewFramer: nf, ReadTimeout: 300 * time.Millisecond,
			Limits: component.TransportLimits{MaxHeaderBytes: 1024, MaxBodyBytes: 2048}})
		cases := []struct{ name, raw, want string }{
			{"malformed", "HELLO THERE\r\n\r\n", "HTTP/1.1 400 "},
			{"oversized header", "POST / HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "HTTP/1.1 431 "},
			{"oversized body", "POST / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n", "HTTP/1.1 413 "},
			{"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 "},
			{"unknown coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 "},
			{"no length", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 411 "},
			{"stalled head", "POST / HTTP/1.1\r\nContent-Le", "HTTP/1.1 408 "},
			{"stalled body", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "HTTP/1.1 408 "},
		}
		for _, c := range cases {
			got, took := rawExchange(t, addr, c.raw)
			assert.True(t, strings.HasPrefix(got, c.want), "%s: got %q", c.name, got)
			assert.Contains(t, got, `"code":`, c.name)
			assert.Less(t, took, 5*time.Second, c.name)
		}
		// A client that connects and says nothing is closed after the idle timeout, not
		// served forever; a well-formed request still works.
		got, _ := rawExchange(t, addr, "POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n"), got)
		assert.True(t, strings.HasSuffix(got, "echo:ok"), got)
		require.Eventually(t, func() bool { return runtime.NumGoroutine() <= base+2 }, 5*time.Second, 10*time.Millisecond,
			"goroutines back to baseline (%d, now %d)", base, runtime.NumGoroutine())
	})
}

func TestShutdownDrains(t *testing.T) {
	e := &echo{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := NewServer(e, ServerOptions{NewFramer: testNative})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := NewClient(ClientOptions{})
	defer c.Close()
	result := make(chan error, 1)
	go func() {
		rep, err := c.Call(context.Background(), ln.Addr().String(), []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("Slow.Call")}}, []byte("x"))
		if err == nil && string(rep.Body) != "echo:x" {
			err = fmt.Errorf("reply %q", rep.Body)
		}
		result <- err
	}()
	require.Eventually(t, func() bool { return e.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, <-result, "the request in flight finished")
	require.ErrorIs(t, <-served, ErrServerClosed)
	require.NoError(t, s.Shutdown(context.Background()), "shutdown is idempotent")
}

// TestFramerDifferential gives the native and Wasm framers the same byte streams.
func TestFramerDifferential(t *testing.T) {
	ctx := context.Background()
	w := &Wasm{Module: loadModule(t)}
	inputs := []string{
		"POST / HTTP/1.1\r\nContent-Length: 2\r\nMicro-Endpoint: A.B\r\n\r\n{}",
		"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{",
		"POST / HTTP/1.0\r\nContent-Length: 0\r\nX: é\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"garbage\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
		"POST / HTTP/1.1\r\nX: " + strings.Repeat("v", 5000) + "\r\nContent-Length: 0\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("z", 70000),
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nqq\r\n",
		"",
	}
	lim := component.TransportLimits{MaxHeaderBytes: 4096, MaxBodyBytes: 1 << 20}
	for i, in := range inputs {
		var a, b Frame
		na, ea := testNative().Frame(ctx, []byte(in), lim, &a)
		nb, eb := w.Frame(ctx, []byte(in), lim, &b)
		require.Equal(t, na, nb, "case %d", i)
		require.Equal(t, fmt.Sprint(ea), fmt.Sprint(eb), "case %d", i)
		if na > 0 {
			assert.Equal(t, a.Headers, b.Headers, "case %d", i)
			assert.Equal(t, a.Body, b.Body, "case %d", i)
			assert.Equal(t, a.KeepAlive, b.KeepAlive, "case %d", i)
		}
	}
	hs := []component.TransportHeader{{Name: []byte("Content-Type"), Value: []byte("application/json")}, {Name: []byte("Bad"), Value: []byte("x\ny")}}
	ha, _ := testNative().Head(ctx, nil, 200, hs, 10, true)
	hb, err := w.Head(ctx, nil, 200, hs, 10, true)
	require.NoError(t, err)
	assert.Equal(t, string(ha), string(hb))

	ra, _ := testNative().Request(ctx, nil, "127.0.0.1:1", hs, 10)
	rb, err := w.Request(ctx, nil, "127.0.0.1:1", hs, 10)
	require.NoError(t, err)
	assert.Equal(t, string(ra), string(rb))
	for i, in := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nMicro-Id: 1\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{",
		"HTTP/1.0 500 Oops\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("z", 70000),
		"HTTP/1.1 2000 OK\r\n\r\n",
		"garbage\r\n\r\n",
		"",
	} {
		var a, b component.TransportResponse
		na, ea := testNative().Response(ctx, []byte(in), lim, &a)
		nb, eb := w.Response(ctx, []byte(in), lim, &b)
		require.Equal(t, na, nb, "reply %d", i)
		require.Equal(t, fmt.Sprint(ea), fmt.Sprint(eb), "reply %d", i)
		if na > 0 {
			assert.Equal(t, a.Status, b.Status, "reply %d", i)
			assert.Equal(t, a.Headers, b.Headers, "reply %d", i)
			assert.Equal(t, a.Body, b.Body, "reply %d", i)
			assert.Equal(t, a.KeepAlive, b.KeepAlive, "reply %d", i)
		}
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []string{"native", "wasm"} {
		b.Run(mode, func(b *testing.B) {
			nf := testNative
			if mode == "wasm" {
				m := loadModule(b)
				nf = func() Framer { return &Wasm{Module: m} }
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			s := NewServer(&echo{}, ServerOptions{NewFramer: nf})
			go func() { _ = s.Serve(ln) }()
			defer s.Shutdown(context.Background())
			c := NewClient(ClientOptions{})
			defer c.Close()
			hdr := []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("Greeter.Hello")}}
			body := []byte(`{"name":"John"}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Call(ctx, ln.Addr().String(), hdr, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingCaller counts a module's calls by operation.
type countingCaller struct {
	Caller
	mu  sync.Mutex
	ops map[string]int
}

func (c *countingCaller) Call(ctx context.Context, op string, in []byte) ([]byte, error) {
	c.mu.Lock()
	c.ops[op]++
	c.mu.Unlock()
	return c.Caller.Call(ctx, op, in)
}

// TestClientFramesThroughTheModule: a client given the Wasm framer writes its requests and
// reads its replies through the module's "request" and "response" operations.
func TestClientFramesThroughTheModule(t *testing.T) {
	m := &countingCaller{Caller: loadModule(t), ops: map[string]int{}}
	_, addr := serve(t, &echo{}, ServerOptions{NewFramer: testNative})
	c := NewClient(ClientOptions{NewFramer: func() component.ClientFramer { return &Wasm{Module: m} }})
	defer c.Close()
	ctx := context.Background()
	for i := range 3 {
		rep, err := c.Call(ctx, addr, []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("X.Y")}}, []byte(fmt.Sprint(i)))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("echo:%d", i), string(rep.Body))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Equal(t, 3, m.ops["request"])
	assert.GreaterOrEqual(t, m.ops["response"], 3)
}
