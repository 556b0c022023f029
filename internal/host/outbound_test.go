package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// countingServer is an httptest server on 127.0.0.1 that counts the connections it accepts.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) hostport() string { return strings.TrimPrefix(s.URL, "http://") }

func TestOutboundHTTP(t *testing.T) {
	ctx := context.Background()
	wasm, err := guestbuild.Go(ctx, "./internal/host/testdata/outboundguest", t.TempDir())
	require.NoError(t, err)
	rt, err := NewRuntime(ctx, Options{CacheDir: DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })

	allowed := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("X-Token", r.Header.Get("X-Consul-Token"))
			_, _ = w.Write(b)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case "/redirect":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	other := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("should never be reached"))
	})

	load := func(t *testing.T, opts ModuleOptions) *Module {
		m, err := rt.Load(ctx, wasm, opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close(ctx) })
		return m
	}
	call := func(ctx context.Context, m *Module, msg string) (*http.Response, error) {
		rsp, err := m.Call(ctx, &Request{Endpoint: "raw", Body: []byte(msg)})
		if err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(strings.NewReader(string(rsp.Body))), nil)
	}
	granted := load(t, ModuleOptions{AllowedHosts: []string{allowed.hostport()}, MaxResponseBytes: 2048})

	t.Run("allowed host answers", func(t *testing.T) {
		msg := fmt.Sprintf("PUT %s/echo HTTP/1.1\r\nHost: x\r\nX-Consul-Token: secret\r\nContent-Length: 5\r\n\r\nhello", allowed.URL)
		rsp, err := call(ctx, granted, msg)
		require.NoError(t, err)
		assert.Equal(t, 200, rsp.StatusCode)
		assert.Equal(t, "PUT", rsp.Header.Get("X-Method"))
		assert.Equal(t, "secret", rsp.Header.Get("X-Token"))
		b, _ := io.ReadAll(rsp.Body)
		assert.Equal(t, "hello", string(b))
		assert.EqualValues(t, 5, rsp.ContentLength)
	})

	t.Run("other host is refused without a connection", func(t *testing.T) {
		msg := fmt.Sprintf("GET %s/ HTTP/1.1\r\nHost: x\r\n\r\n", other.URL)
		_, err := call(ctx, granted, msg)
		var ae *abi.Error
		require.ErrorAs(t, err, &ae)
		assert.EqualValues(t, 502, ae.Code)
		assert.Contains(t, ae.Detail, "not in this module's grant")
		assert.Zero(t, other.conns.Load())
	})

	t.Run("no grant reaches nothing", func(t *testing.T) {
		m := load(t, ModuleOptions{})
		require.Same(t, granted.code, m.code, "the two modules share compiled code; each has its own grant")
		before := allowed.conns.Load()
		_, err := call(ctx, m, fmt.Sprintf("GET %s/echo HTTP/1.1\r\nHost: x\r\n\r\n", allowed.URL))
		require.ErrorContains(t, err, "host not allowed")
		assert.Equal(t, before, allowed.conns.Load())
	})

	t.Run("grant without a port allows any port of the host", func(t *testing.T) {
		m := load(t, ModuleOptions{AllowedHosts: []string{"127.0.0.1"}})
		rsp, err := call(ctx, m, fmt.Sprintf("GET %s/echo HTTP/1.1\r\nHost: x\r\n\r\n", other.URL))
		require.NoError(t, err)
		assert.Equal(t, 200, rsp.StatusCode)
		_, err = call(ctx, m, "GET http://localhost:1/ HTTP/1.1\r\nHost: x\r\n\r\n")
		require.ErrorContains(t, err, "not in this module's grant")
	})

	t.Run("bad request messages", func(t *testing.T) {
		for msg, want := range map[string]string{
			"":                "malformed",
			"garbage\r\n\r\n": "malformed",
			"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n":        "absolute http or https URL",
			"GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n": "absolute http or https URL",
		} {
			_, err := call(ctx, granted, msg)
			require.ErrorContains(t, err, want, "message %q", msg)
		}
	})

	t.Run("responses are bounded", func(t *testing.T) {
		_, err := call(ctx, granted, fmt.Sprintf("GET %s/big HTTP/1.1\r\nHost: x\r\n\r\n", allowed.URL))
		require.ErrorContains(t, err, "larger than 2048 bytes")
	})

	t.Run("redirects are returned, not followed", func(t *testing.T) {
		before := other.conns.Load()
		rsp, err := call(ctx, granted, fmt.Sprintf("GET %s/redirect?to=%s/ HTTP/1.1\r\nHost: x\r\n\r\n", allowed.URL, other.URL))
		require.NoError(t, err)
		assert.Equal(t, http.StatusFound, rsp.StatusCode)
		assert.Equal(t, other.URL+"/", rsp.Header.Get("Location"))
		assert.Equal(t, before, other.conns.Load())
	})

	t.Run("the call's deadline ends the request", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := call(cctx, granted, fmt.Sprintf("GET %s/slow HTTP/1.1\r\nHost: x\r\n\r\n", allowed.URL))
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorContains(t, err, "deadline exceeded")
		case <-time.After(5 * time.Second):
			t.Fatal("the request outlived its call's deadline")
		}
	})

	t.Run("listed among the host functions", func(t *testing.T) {
		names := HostFunctionNames()
		assert.Contains(t, names, ImportHTTPRequest)
		assert.Contains(t, names, ImportHTTPResponseRead)
	})
}

func TestOutboundAllows(t *testing.T) {
	o := newOutbound(ModuleOptions{AllowedHosts: []string{"Consul.Example:8500", "127.0.0.1", " [::1]:8500 "}})
	for host, want := range map[string]bool{
		"consul.example:8500": true,
		"CONSUL.EXAMPLE:8500": true,
		"consul.example:8501": false,
		"consul.example":      false,
		"127.0.0.1:1":         true,
		"127.0.0.1":           true,
		"127.0.0.2:8500":      false,
		"[::1]:8500":          true,
		"[::1]:8501":          false,
		"evil.example:8500":   false,
	} {
		assert.Equal(t, want, o.allows(host), host)
	}
}
