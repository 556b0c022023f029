package transport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
)

func testHead(dst []byte, status int, hs []component.TransportHeader, bodyLen int, keepAlive bool) []byte {
	out, err := testNative().Head(context.Background(), dst, status, hs, bodyLen, keepAlive)
	if err != nil {
		panic(err)
	}
	return out
}

func TestResponseRoundTrip(t *testing.T) {
	head := testHead(nil, 200, []component.TransportHeader{
		{Name: []byte("Content-Type"), Value: []byte("application/json")},
		{Name: []byte("X-Evil"), Value: []byte("a\r\nSet-Cookie: x")},
		{Name: []byte("Content-Length"), Value: []byte("999")},
	}, 2, true)
	wire := append(head, "{}"...)
	assert.NotContains(t, string(wire), "Set-Cookie", "a value with CR LF is dropped")

	rsp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(rsp.Body)
	assert.Equal(t, 200, rsp.StatusCode)
	assert.Equal(t, "{}", string(b))
	assert.Equal(t, "application/json", rsp.Header.Get("Content-Type"))

	var r component.TransportResponse
	n, err := parseResponse(wire, component.TransportLimits{}, &r)
	require.NoError(t, err)
	assert.Equal(t, len(wire), n)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "{}", string(r.Body))
	assert.True(t, r.KeepAlive)

	closing := testHead(nil, 404, nil, 0, false)
	n, err = parseResponse(closing, component.TransportLimits{}, &r)
	require.NoError(t, err)
	assert.Equal(t, len(closing), n)
	assert.Equal(t, 404, r.Status)
	assert.False(t, r.KeepAlive)
}

func TestRequestRoundTrip(t *testing.T) {
	head := appendRequestHead(nil, "127.0.0.1:8080", []component.TransportHeader{{Name: []byte("Micro-Endpoint"), Value: []byte("Greeter.Hello")}}, 2)
	wire := append(head, "{}"...)
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	require.NoError(t, err)
	assert.Equal(t, "Greeter.Hello", hr.Header.Get("Micro-Endpoint"))
	var f Frame
	n, err := testNative().Frame(context.Background(), wire, component.TransportLimits{}, &f)
	require.NoError(t, err)
	assert.Equal(t, len(wire), n)
	assert.Equal(t, "{}", string(f.Body))
}

func TestParseChunkedResponse(t *testing.T) {
	wire := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nnext")
	var r component.TransportResponse
	n, err := parseResponse(wire, component.TransportLimits{}, &r)
	require.NoError(t, err)
	assert.Equal(t, len(wire)-4, n)
	assert.Equal(t, "abc", string(r.Body))
	n, err = parseResponse(wire[:30], component.TransportLimits{}, &r)
	require.NoError(t, err)
	assert.Zero(t, n, "part of a reply: read more")
}
