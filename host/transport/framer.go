// Package transport owns the connections of microhost's transport: it accepts and dials TCP
// connections, buffers their bytes, enforces timeouts and limits, and leaves the wire
// protocol to a framer — the http-transport plugin, native or Wasm.
package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
	httptransport "github.com/microhost/microhost/plugins/http-transport"
)

// Frame is one framed request: its headers are views valid until the next call on the
// framer, its body is at buf[N-ContentLength:N] of the buffer that was framed.
type Frame = httptransport.Request

// Framer is the wire protocol: it frames requests out of buffered bytes and writes reply
// heads. A Framer is used by one connection at a time.
type Framer interface {
	// Frame frames the first request in buf into f and returns the bytes it takes; 0 with a
	// nil error asks for more bytes. A protocol error is an *httptransport.Error.
	Frame(ctx context.Context, buf []byte, lim httptransport.Limits, f *Frame) (int, error)
	// Head appends the head of a reply with a body of bodyLen bytes.
	Head(ctx context.Context, dst []byte, status int, headers []httptransport.Header, bodyLen int, keepAlive bool) ([]byte, error)
}

// Native is the http-transport plugin compiled into the host.
type Native struct{}

// Frame implements Framer.
func (Native) Frame(_ context.Context, buf []byte, lim httptransport.Limits, f *Frame) (int, error) {
	return httptransport.ParseRequest(buf, lim, f)
}

// Head implements Framer.
func (Native) Head(_ context.Context, dst []byte, status int, headers []httptransport.Header, bodyLen int, keepAlive bool) ([]byte, error) {
	return httptransport.AppendResponseHead(dst, status, headers, bodyLen, keepAlive), nil
}

// Caller runs one operation of a plugin module; *host.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
}

// Wasm frames through an http-transport.wasm module. Each connection should have its own
// Wasm value, as it keeps scratch space.
type Wasm struct {
	Module Caller
	in     []byte
	req    host.Request
}

// Frame implements Framer.
func (w *Wasm) Frame(ctx context.Context, buf []byte, lim httptransport.Limits, f *Frame) (int, error) {
	w.in = httptransport.AppendFrameInput(w.in[:0], lim, buf)
	w.req = host.Request{Endpoint: "frame", ContentType: "application/octet-stream", Body: w.in}
	res, err := w.Module.Call(ctx, &w.req)
	if err != nil {
		return 0, framingError(err)
	}
	n, err := httptransport.DecodeFrame(res.Body, f)
	if err != nil {
		return 0, fmt.Errorf("transport plugin: %w", err)
	}
	if n > len(buf) {
		return 0, fmt.Errorf("transport plugin: consumed %d of %d bytes", n, len(buf))
	}
	if n > 0 && f.Chunked {
		return w.dechunk(ctx, buf, n, lim, f)
	}
	if n > 0 {
		f.Body = buf[n-f.ContentLength : n]
	}
	return n, nil
}

// dechunk decodes a chunked body that follows a head of n bytes, through the plugin, and
// copies the decoded body into buf over the coding it replaces.
func (w *Wasm) dechunk(ctx context.Context, buf []byte, n int, lim httptransport.Limits, f *Frame) (int, error) {
	maxBody := lim.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = 4 << 20
	}
	in := httptransport.AppendDechunkInput(nil, maxBody, buf[n:])
	res, err := w.Module.Call(ctx, &host.Request{Endpoint: "dechunk", ContentType: "application/octet-stream", Body: in})
	if err != nil {
		return 0, framingError(err)
	}
	m, body, err := httptransport.DecodeDechunk(res.Body)
	if err != nil {
		return 0, fmt.Errorf("transport plugin: %w", err)
	}
	if m == 0 {
		return 0, nil
	}
	if n+m > len(buf) || len(body) > m {
		return 0, fmt.Errorf("transport plugin: dechunk consumed %d of %d bytes", m, len(buf)-n)
	}
	f.Body = buf[n : n+copy(buf[n:], body)]
	f.ContentLength = len(f.Body)
	return n + m, nil
}

// Head implements Framer.
func (w *Wasm) Head(ctx context.Context, dst []byte, status int, headers []httptransport.Header, bodyLen int, keepAlive bool) ([]byte, error) {
	w.in = httptransport.AppendHeadInput(w.in[:0], status, headers, bodyLen, keepAlive)
	w.req = host.Request{Endpoint: "head", ContentType: "application/octet-stream", Body: w.in}
	res, err := w.Module.Call(ctx, &w.req)
	if err != nil {
		return dst, fmt.Errorf("transport plugin: %w", err)
	}
	return append(dst, res.Body...), nil
}

// framingError turns the plugin's Go Micro error back into a framing error.
func framingError(err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 600 {
		return &httptransport.Error{Status: int(ae.Code), Reason: ae.Detail}
	}
	return fmt.Errorf("transport plugin: %w", err)
}
