//go:build !wasip1

package conformance_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
)

// loadRust builds a Rust module from dir with the SDK and loads it.
func loadRust(t *testing.T, dir string) *host.Module {
	t.Helper()
	ctx := context.Background()
	wasm, err := guestbuild.Rust(ctx, dir, t.TempDir())
	requireToolchain(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Load(ctx, wasm, host.ModuleOptions{PoolSize: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(ctx) })
	return m
}

// TestRustSDK calls each part of the Rust SDK's API through the host: metadata both ways,
// service calls and publications without a client or broker, streams, subscribers, JSON
// strings and a panic.
func TestRustSDK(t *testing.T) {
	m := loadRust(t, "./handlers/conformance/testdata/rust-sdk")
	ctx := context.Background()
	call := func(endpoint, body string, header map[string]string) (*host.Response, *abi.Error) {
		rsp, err := m.Call(ctx, &host.Request{Endpoint: endpoint, ContentType: "application/json", Header: header, Body: []byte(body)})
		if err != nil {
			var ae *abi.Error
			require.True(t, errors.As(err, &ae), "not a handler error: %v", err)
			return nil, ae
		}
		return rsp, nil
	}

	desc := m.Descriptor()
	assert.Equal(t, "rust-sdk", desc.Name)
	assert.Equal(t, "0.1.0", desc.Version)
	eps := map[string]abi.Endpoint{}
	for _, e := range desc.Endpoints {
		eps[e.Name] = e
	}
	assert.Equal(t, map[string]string{"stream": "true"}, eps["Sdk.Count"].Metadata)
	assert.Equal(t, map[string]string{"subscriber": "true", "topic": "events"}, eps["events"].Metadata)

	rsp, ae := call("Sdk.Headers", `{}`, map[string]string{"X-Trace": "abc-123"})
	require.Nil(t, ae)
	assert.Equal(t, `{"trace":"abc-123","content_type":"application/json","absent":true}`, string(rsp.Body))
	assert.Equal(t, "got abc-123", rsp.Header["X-Reply"])

	// A long header value takes the SDK's second, sized read.
	long := strings.Repeat("x", 10000)
	rsp, ae = call("Sdk.Headers", `{}`, map[string]string{"x-trace": long})
	require.Nil(t, ae)
	assert.Equal(t, "got "+long, rsp.Header["X-Reply"])

	_, ae = call("Sdk.Call", `{}`, nil)
	require.NotNil(t, ae)
	assert.Equal(t, int32(503), ae.Code, ae.Detail)

	_, ae = call("Sdk.Publish", `{}`, nil)
	require.NotNil(t, ae)
	assert.Equal(t, int32(503), ae.Code, ae.Detail)

	rsp, ae = call("Sdk.Unescape", `{"s":"a\"b\u00e9\ud83c\udf89\n"}`, nil)
	require.Nil(t, ae)
	assert.Equal(t, `{"s":"a\"bé🎉\n","chars":6}`, string(rsp.Body))
	_, ae = call("Sdk.Unescape", `{"s":1}`, nil)
	require.NotNil(t, ae)
	assert.Equal(t, int32(400), ae.Code)
	assert.Equal(t, "malformed JSON request", ae.Detail)

	// A unary call to a streaming endpoint: stream_send answers 400.
	_, ae = call("Sdk.Count", `2`, nil)
	require.NotNil(t, ae)
	assert.Equal(t, int32(400), ae.Code, ae.Detail)

	// A stream: the opening body, then every message back, one larger than the SDK's first
	// receive buffer.
	big := strings.Repeat("y", 5000)
	s := &fakeStream{in: [][]byte{[]byte("two"), []byte(big)}}
	_, err := m.Call(ctx, &host.Request{Endpoint: "Sdk.Echo", ContentType: "application/json", Body: []byte("one"), Stream: s})
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "two", big}, s.out)

	rsp, ae = call("events", `{"n":1}`, map[string]string{"Micro-Topic": "events"})
	require.Nil(t, ae)
	assert.Empty(t, rsp.Body)

	// A panic traps: the call fails as a guest fault, and a fresh instance serves the next.
	_, err = m.Call(ctx, &host.Request{Endpoint: "Sdk.Panic", ContentType: "application/json", Body: []byte(`{}`)})
	require.Error(t, err)
	assert.ErrorIs(t, err, host.ErrGuestFault)
	rsp, ae = call("Sdk.Headers", `{}`, map[string]string{"X-Trace": "after"})
	require.Nil(t, ae)
	assert.Equal(t, "got after", rsp.Header["X-Reply"])
}

// fakeStream is a client that sends in, then closes its side, and records what it got.
type fakeStream struct {
	in  [][]byte
	out []string
}

func (s *fakeStream) Send(_ context.Context, body []byte) error {
	s.out = append(s.out, string(body))
	return nil
}

func (s *fakeStream) Recv(context.Context) ([]byte, error) {
	if len(s.in) == 0 {
		return nil, io.EOF
	}
	msg := s.in[0]
	s.in = s.in[1:]
	return msg, nil
}
