// Package transport owns the connections of microhost's transport: it accepts and dials TCP
// connections, buffers their bytes, enforces timeouts and limits, and leaves the wire
// protocol to a framer (component.Framer) — a transport plugin's native twin, or its Wasm
// module through Wasm.
package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// Frame is one framed request: its headers are views valid until the next call on the
// framer, its body is at buf[N-ContentLength:N] of the buffer that was framed.
type Frame = component.TransportFrame

// Framer is the wire protocol: it frames requests out of buffered bytes and writes reply
// heads. A Framer is used by one connection at a time.
type Framer = component.Framer

// Caller runs one operation of a component module; *wasmcomponent.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, op string, in []byte) ([]byte, error)
}

// Wasm frames through a transport module (abi/transport.md). Each connection should have
// its own Wasm value, as it keeps scratch space.
type Wasm struct {
	Module Caller
	in     []byte
}

// Frame implements Framer.
func (w *Wasm) Frame(ctx context.Context, buf []byte, lim component.TransportLimits, f *Frame) (int, error) {
	w.in = component.AppendFrameInput(w.in[:0], lim, buf)
	out, err := w.Module.Call(ctx, component.TransportOpFrame, w.in)
	if err != nil {
		return 0, framingError(component.TransportOpFrame, err)
	}
	n, err := component.DecodeFrame(out, f)
	if err != nil {
		return 0, fmt.Errorf("transport module: frame: %w", err)
	}
	if n > len(buf) {
		return 0, fmt.Errorf("transport module: frame: consumed %d bytes but was given %d", n, len(buf))
	}
	if n > 0 && f.Chunked {
		m, body, err := w.decodeChunked(ctx, buf, n, lim)
		if err != nil || m == 0 {
			return 0, err
		}
		f.Body, f.ContentLength = body, len(body)
		return n + m, nil
	}
	if n > 0 {
		f.Body = buf[n-f.ContentLength : n]
	}
	return n, nil
}

// decodeChunked decodes a chunked body that follows a head of n bytes, through the
// module, and copies the decoded body into buf over the coding it replaces. It returns the
// bytes the coding took (0: read more) and the body, a view into buf.
func (w *Wasm) decodeChunked(ctx context.Context, buf []byte, n int, lim component.TransportLimits) (int, []byte, error) {
	w.in = component.AppendDechunkInput(w.in[:0], lim.BodyBytes(), buf[n:])
	out, err := w.Module.Call(ctx, component.TransportOpDechunk, w.in)
	if err != nil {
		return 0, nil, framingError(component.TransportOpDechunk, err)
	}
	m, body, err := component.DecodeDechunked(out)
	if err != nil {
		return 0, nil, fmt.Errorf("transport module: dechunk: %w", err)
	}
	if m == 0 {
		return 0, nil, nil
	}
	if n+m > len(buf) || len(body) > m {
		return 0, nil, fmt.Errorf("transport module: dechunk: consumed %d bytes but was given %d", m, len(buf)-n)
	}
	if len(body) > lim.BodyBytes() {
		return 0, nil, component.ErrBodyTooLarge
	}
	return m, buf[n : n+copy(buf[n:], body)], nil
}

// Head implements Framer.
func (w *Wasm) Head(ctx context.Context, dst []byte, status int, headers []component.TransportHeader, bodyLen int, keepAlive bool) ([]byte, error) {
	w.in = component.AppendHeadInput(w.in[:0], status, headers, bodyLen, keepAlive)
	out, err := w.Module.Call(ctx, component.TransportOpHead, w.in)
	if err != nil {
		return dst, fmt.Errorf("transport module: head: %w", err)
	}
	head, err := component.DecodeHeadOutput(out)
	if err != nil {
		return dst, fmt.Errorf("transport module: head: %w", err)
	}
	if len(head) == 0 {
		return dst, errors.New("transport module: head: empty head")
	}
	return append(dst, head...), nil
}

// Request implements Framer.
func (w *Wasm) Request(ctx context.Context, dst []byte, host string, headers []component.TransportHeader, bodyLen int) ([]byte, error) {
	w.in = component.AppendRequestInput(w.in[:0], host, headers, bodyLen)
	out, err := w.Module.Call(ctx, component.TransportOpRequest, w.in)
	if err != nil {
		return dst, fmt.Errorf("transport module: request: %w", err)
	}
	head, err := component.DecodeHeadOutput(out)
	if err != nil {
		return dst, fmt.Errorf("transport module: request: %w", err)
	}
	if len(head) == 0 {
		return dst, errors.New("transport module: request: empty head")
	}
	return append(dst, head...), nil
}

// Response implements Framer.
func (w *Wasm) Response(ctx context.Context, buf []byte, lim component.TransportLimits, r *component.TransportResponse) (int, error) {
	w.in = component.AppendFrameInput(w.in[:0], lim, buf)
	out, err := w.Module.Call(ctx, component.TransportOpResponse, w.in)
	if err != nil {
		return 0, framingError(component.TransportOpResponse, err)
	}
	n, err := component.DecodeResponse(out, r)
	if err != nil {
		return 0, fmt.Errorf("transport module: response: %w", err)
	}
	if n > len(buf) {
		return 0, fmt.Errorf("transport module: response: consumed %d bytes but was given %d", n, len(buf))
	}
	if n == 0 {
		return 0, nil
	}
	if !r.Chunked {
		r.Body = buf[n-r.ContentLength : n]
		return n, nil
	}
	m, body, err := w.decodeChunked(ctx, buf, n, lim)
	if err != nil || m == 0 {
		return 0, err
	}
	r.Body, r.ContentLength = body, len(body)
	return n + m, nil
}

// framingError turns the module's error back into a framing error: a 4xx or 5xx code is
// the status the host answers with.
func framingError(op string, err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 600 {
		return &component.TransportError{Status: int(ae.Code), Reason: ae.Detail}
	}
	return fmt.Errorf("transport module: %s: %w", op, err)
}
