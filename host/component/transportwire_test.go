package component_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi/proto/abipb"
	"github.com/microhost/microhost/host/component"
)

var marshal = proto.MarshalOptions{Deterministic: true}

func pbHeaders(hs []component.TransportHeader) []*abipb.TransportHeader {
	var out []*abipb.TransportHeader
	for _, h := range hs {
		out = append(out, &abipb.TransportHeader{Name: h.Name, Value: h.Value})
	}
	return out
}

// TestTransportRecordsMatchSchema checks the hand-written records byte for byte against the
// code generated from abi/proto/transport.proto, and reads what the generated code writes.
func TestTransportRecordsMatchSchema(t *testing.T) {
	hs := []component.TransportHeader{
		{Name: []byte("Micro-Endpoint"), Value: []byte("Greeter.Hello")},
		{Name: []byte("X-Empty"), Value: nil},
		{Name: []byte("X-Long"), Value: bytes.Repeat([]byte("v"), 300)},
	}
	lim := component.TransportLimits{MaxHeaderBytes: 1024, MaxBodyBytes: 1 << 20}
	buf := bytes.Repeat([]byte("b"), 2000)

	want, err := marshal.Marshal(&abipb.TransportFrameInput{MaxHeaderBytes: 1024, MaxBodyBytes: 1 << 20, Available: 2000, Data: buf[:1028]})
	require.NoError(t, err)
	got := component.AppendFrameInput(nil, lim, buf)
	assert.Equal(t, want, got, "FrameInput")
	gl, avail, data, err := component.DecodeFrameInput(want)
	require.NoError(t, err)
	assert.Equal(t, lim, gl)
	assert.Equal(t, 2000, avail)
	assert.Equal(t, buf[:1028], data)

	f := &component.TransportFrame{Method: []byte("POST"), Target: []byte("/"), Headers: hs, ContentLength: 300, KeepAlive: true}
	want, err = marshal.Marshal(&abipb.TransportFrame{Consumed: 500, Method: f.Method, Target: f.Target, Headers: pbHeaders(hs), ContentLength: 300, KeepAlive: true})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendFrame(nil, 500, f), "Frame")
	var back component.TransportFrame
	n, err := component.DecodeFrame(want, &back)
	require.NoError(t, err)
	assert.Equal(t, 500, n)
	assert.Equal(t, "POST", string(back.Method))
	assert.Len(t, back.Headers, 3)
	assert.Equal(t, hs[2].Value, back.Headers[2].Value)
	assert.Equal(t, 300, back.ContentLength)
	assert.True(t, back.KeepAlive)

	want, err = marshal.Marshal(&abipb.TransportFrame{Consumed: 60, Method: []byte("POST"), Target: []byte("/"), Chunked: true})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendFrame(nil, 60, &component.TransportFrame{Method: []byte("POST"), Target: []byte("/"), Chunked: true}), "chunked Frame")
	assert.Empty(t, component.AppendFrame(nil, 0, f), "read more is the empty record")

	want, err = marshal.Marshal(&abipb.TransportDechunkInput{MaxBodyBytes: 4096, Data: []byte("3\r\nabc\r\n0\r\n\r\n")})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendDechunkInput(nil, 4096, []byte("3\r\nabc\r\n0\r\n\r\n")), "DechunkInput")
	mb, d, err := component.DecodeDechunkInput(want)
	require.NoError(t, err)
	assert.Equal(t, 4096, mb)
	assert.Equal(t, "3\r\nabc\r\n0\r\n\r\n", string(d))

	want, err = marshal.Marshal(&abipb.TransportDechunked{Consumed: 13, Body: []byte("abc")})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendDechunked(nil, 13, []byte("abc")), "Dechunked")
	c, body, err := component.DecodeDechunked(want)
	require.NoError(t, err)
	assert.Equal(t, 13, c)
	assert.Equal(t, "abc", string(body))

	want, err = marshal.Marshal(&abipb.TransportHeadInput{Status: 413, Headers: pbHeaders(hs), BodyLen: 12, KeepAlive: false})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendHeadInput(nil, 413, hs, 12, false), "HeadInput")
	st, gh, bl, ka, err := component.DecodeHeadInput(want, nil)
	require.NoError(t, err)
	assert.Equal(t, 413, st)
	assert.Len(t, gh, 3)
	assert.Equal(t, 12, bl)
	assert.False(t, ka)

	want, err = marshal.Marshal(&abipb.TransportHeadOutput{Head: []byte("HTTP/1.1 200 OK\r\n\r\n")})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendHeadOutput(nil, []byte("HTTP/1.1 200 OK\r\n\r\n")), "HeadOutput")
	head, err := component.DecodeHeadOutput(want)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 200 OK\r\n\r\n", string(head))
}

// A decoded frame's fields point into the record with no room past their end, so appending
// to one copies it instead of writing over what follows.
func TestDecodedFrameFieldsAreCapped(t *testing.T) {
	req := &component.TransportFrame{Method: []byte("POST"), Target: []byte("/"), Headers: []component.TransportHeader{{Name: []byte("Micro-Id"), Value: []byte("7")}}, ContentLength: 2}
	wire := component.AppendFrame(nil, 10, req)
	var got component.TransportFrame
	_, err := component.DecodeFrame(wire, &got)
	require.NoError(t, err)
	for _, f := range [][]byte{got.Method, got.Target, got.Headers[0].Name, got.Headers[0].Value} {
		assert.Equal(t, len(f), cap(f), "field %q", f)
	}
	_ = append(got.Method, "XXXX"...)
	assert.Equal(t, "/", string(got.Target))
}

func TestDecodeRefusesBadRecords(t *testing.T) {
	var f component.TransportFrame
	_, err := component.DecodeFrame([]byte{0x08, 0x05, 0x28, 0x06}, &f)
	assert.ErrorContains(t, err, "content length 6 beyond consumed 5")
	_, err = component.DecodeFrame([]byte{0x22, 0x7f}, &f)
	assert.Error(t, err, "truncated field")
	_, _, _, err = component.DecodeFrameInput([]byte{0x18, 0x01, 0x22, 0x02, 'a', 'b'})
	assert.ErrorContains(t, err, "2 bytes given but only 1 available")
}

func TestTransportClientRecordsMatchSchema(t *testing.T) {
	hs := []component.TransportHeader{{Name: []byte("Micro-Id"), Value: []byte("7")}, {Name: []byte("X-Empty")}}
	want, err := marshal.Marshal(&abipb.TransportRequestInput{Host: []byte("127.0.0.1:8080"), Headers: pbHeaders(hs), BodyLen: 300})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendRequestInput(nil, "127.0.0.1:8080", hs, 300), "RequestInput")
	host, gh, bl, err := component.DecodeRequestInput(want, nil)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", string(host))
	assert.Len(t, gh, 2)
	assert.Equal(t, 300, bl)

	r := &component.TransportResponse{Status: 200, Headers: hs, ContentLength: 25, KeepAlive: true}
	want, err = marshal.Marshal(&abipb.TransportResponse{Consumed: 90, Status: 200, Headers: pbHeaders(hs), ContentLength: 25, KeepAlive: true})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendResponse(nil, 90, r), "Response")
	var back component.TransportResponse
	n, err := component.DecodeResponse(want, &back)
	require.NoError(t, err)
	assert.Equal(t, 90, n)
	assert.Equal(t, 200, back.Status)
	assert.Equal(t, 25, back.ContentLength)
	assert.True(t, back.KeepAlive)
	assert.Len(t, back.Headers, 2)

	want, err = marshal.Marshal(&abipb.TransportResponse{Consumed: 40, Status: 500, Chunked: true})
	require.NoError(t, err)
	assert.Equal(t, want, component.AppendResponse(nil, 40, &component.TransportResponse{Status: 500, Chunked: true}), "chunked Response")
	assert.Empty(t, component.AppendResponse(nil, 0, r), "read more is the empty record")
	_, err = component.DecodeResponse([]byte{0x08, 0x05}, &back)
	assert.ErrorContains(t, err, "status 0 out of range")
}
