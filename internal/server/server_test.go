package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/host"
)

// echo is a handler that answers with its request body and content type, or fails with 400
// when the body is "fail" in either encoding.
type echo struct{ last *host.Request }

func (e *echo) Descriptor() abi.Descriptor {
	return abi.Descriptor{Kind: abi.KindHandler, Name: "echo", Endpoints: []abi.Endpoint{{Name: "Echo.Call"}}}
}

func (e *echo) Call(_ context.Context, req *host.Request) (*host.Response, error) {
	e.last = req
	if string(req.Body) == `"fail"` || string(req.Body) == string(pbString("fail")) {
		return nil, &abi.Error{Code: 400, Detail: "told to fail"}
	}
	return &host.Response{Body: req.Body}, nil
}

func pbString(s string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
}

func newServer(t *testing.T) (*httptest.Server, *echo) {
	t.Helper()
	h := &echo{}
	s, err := New(Options{Name: "echo", Codecs: stockCodecs()}, h)
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, h
}

func post(t *testing.T, url, ct string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp, b
}

func TestEveryContentTypeReachesTheHandlerBare(t *testing.T) {
	ts, h := newServer(t)
	ctx := context.Background()
	reg := stockCodecs()
	for _, c := range []struct{ ct, bare string }{
		{"application/json", "application/json"},
		{"application/json-rpc", "application/json"},
		{"application/protobuf", "application/protobuf"},
		{"application/proto-rpc", "application/protobuf"},
		{"application/octet-stream", "application/octet-stream"},
	} {
		body := []byte(`{"name":"John"}`)
		if c.bare != "application/json" {
			body = pbString("John")
		}
		cc, ok := reg.Lookup(c.ct)
		require.True(t, ok)
		wire, err := cc.WriteRequest(ctx, c.ct, &codec.Message{ID: "42", Endpoint: "Echo.Call", Body: body})
		require.NoError(t, err)
		// The RPC envelopes carry the endpoint, so they need no Micro-Endpoint header.
		var hdr map[string]string
		if c.ct == c.bare {
			hdr = map[string]string{"Micro-Endpoint": "Echo.Call"}
		}
		rsp, got := post(t, ts.URL, c.ct, hdr, wire)
		require.Equal(t, http.StatusOK, rsp.StatusCode, "%s: %s", c.ct, got)
		assert.Equal(t, c.ct, rsp.Header.Get("Content-Type"))
		assert.Equal(t, body, h.last.Body, c.ct)
		assert.Equal(t, c.bare, h.last.ContentType, c.ct)
		reply, err := cc.ReadResponse(ctx, c.ct, got)
		require.NoError(t, err)
		assert.Equal(t, body, reply.Body, c.ct)
		if c.ct != c.bare {
			assert.Equal(t, "42", reply.ID, "%s echoes the id", c.ct)
		}
	}
}

func TestErrors(t *testing.T) {
	ts, _ := newServer(t)
	endpoint := map[string]string{"Micro-Endpoint": "Echo.Call"}
	rpcClient := map[string]string{"Micro-Endpoint": "Echo.Call", "Micro-Id": "7"}
	cases := []struct {
		name, ct string
		hdr      map[string]string
		body     []byte
		status   int
		code     int32
		detail   string
	}{
		{"unknown content type", "text/plain", endpoint, []byte("hi"), 415, 415, `unsupported content type "text/plain"`},
		{"malformed JSON", "application/json", endpoint, []byte(`{"a":`), 400, 400, "malformed JSON body"},
		{"malformed protobuf", "application/protobuf", endpoint, []byte{0x80}, 400, 400, "malformed protobuf body"},
		{"malformed JSON-RPC", "application/json-rpc", nil, []byte(`{"method":"Echo.Call","params":{}}`), 400, 400, "params must be an array"},
		{"malformed proto-RPC", "application/proto-rpc", nil, []byte{0, 0, 0, 9}, 400, 400, "malformed proto-RPC"},
		{"handler error", "application/json", endpoint, []byte(`"fail"`), 400, 400, "told to fail"},
		{"handler error to an RPC client", "application/json", rpcClient, []byte(`"fail"`), 200, 400, "told to fail"},
		{"unknown endpoint to an RPC client", "application/protobuf", map[string]string{"Micro-Endpoint": "Nope.Call", "Micro-Id": "1"}, nil, 200, 404, "unknown endpoint Nope.Call"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rsp, body := post(t, ts.URL, c.ct, c.hdr, c.body)
			assert.Equal(t, c.status, rsp.StatusCode)
			e := abi.ParseError(rsp.Header.Get("Micro-Error"))
			assert.Equal(t, c.code, e.Code)
			assert.Contains(t, e.Detail, c.detail)
			assert.Equal(t, "echo", e.ID)
			switch c.ct {
			case "application/json", "text/plain":
				assert.JSONEq(t, rsp.Header.Get("Micro-Error"), string(body), "JSON errors are in the body too")
			case "application/json-rpc":
				var env struct{ Error string }
				require.NoError(t, json.Unmarshal(body, &env))
				assert.Equal(t, rsp.Header.Get("Micro-Error"), env.Error)
			}
		})
	}
}

func TestJSONRPCErrorEchoesTheID(t *testing.T) {
	ts, _ := newServer(t)
	rsp, body := post(t, ts.URL, "application/json-rpc", nil, []byte(`{"method":"Echo.Call","params":["fail"],"id":18446744073709551615}`))
	assert.Equal(t, http.StatusBadRequest, rsp.StatusCode)
	var env struct {
		ID     string
		Result any
		Error  string
	}
	require.NoError(t, json.Unmarshal(body, &env))
	assert.Equal(t, "18446744073709551615", env.ID)
	assert.Nil(t, env.Result)
	assert.Equal(t, int32(400), abi.ParseError(env.Error).Code)
}

// The caller's metadata is read from the header fields in place: transport fields are left
// out, a key is found exactly first and then case-insensitively, and the first of repeated
// fields wins, in Get and in All alike.
func TestMetadataReadInPlace(t *testing.T) {
	field := func(k, v string) component.TransportHeader {
		return component.TransportHeader{Name: []byte(k), Value: []byte(v)}
	}
	md := metadata{
		field("Content-Type", "application/json"), field("Micro-Service", "greeter"),
		field("x-trace", "lower"), field("X-Trace", "upper"), field("Tenant", "a"), field("Tenant", "b"),
		field("Timeout", "5s"), field("User-Agent", "curl"),
	}
	for key, want := range map[string]string{"X-Trace": "upper", "x-trace": "lower", "X-TRACE": "lower", "tenant": "a", "Tenant": "a", "Micro-Service": "greeter"} {
		got, ok := md.Get(key)
		assert.True(t, ok, key)
		assert.Equal(t, want, got, key)
	}
	for _, key := range []string{"Content-Type", "Timeout", "user-agent", "Missing"} {
		_, ok := md.Get(key)
		assert.False(t, ok, key)
	}
	all := map[string]string{}
	n := 0
	for k, v := range md.All() {
		all[k] = v
		n++
	}
	assert.Equal(t, map[string]string{"Micro-Service": "greeter", "x-trace": "lower", "X-Trace": "upper", "Tenant": "a"}, all)
	assert.Equal(t, 4, n, "each key once")
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() {
		if _, ok := md.Get("X-TRACE"); !ok {
			t.Fatal("missing")
		}
	}), 1.0, "a lookup allocates only its value")
}
