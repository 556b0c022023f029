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
		return w.dechunk(ctx, buf, n, lim, f)
	}
	if n > 0 {
		f.Body = buf[n-f.ContentLength : n]
	}
	return n, nil
}

// dechunk decodes a chunked body that follows a head of n bytes, through the module, and
// copies the decoded body into buf over the coding it replaces.
func (w *Wasm) dechunk(ctx context.Context, buf []byte, n int, lim component.TransportLimits, f *Frame) (int, error) {
	w.in = component.AppendDechunkInput(w.in[:0], lim.BodyBytes(), buf[n:])
	out, err := w.Module.Call(ctx, component.TransportOpDechunk, w.in)
	if err != nil {
		return 0, framingError(component.TransportOpDechunk, err)
	}
	m, body, err := component.DecodeDechunked(out)
	if err != nil {
		return 0, fmt.Errorf("transport module: dechunk: %w", err)
	}
	if m == 0 {
		return 0, nil
	}
	if n+m > len(buf) || len(body) > m {
		return 0, fmt.Errorf("transport module: dechunk: consumed %d bytes but was given %d", m, len(buf)-n)
	}
	if len(body) > lim.BodyBytes() {
		return 0, component.ErrBodyTooLarge
	}
	f.Body = buf[n : n+copy(buf[n:], body)]
	f.ContentLength = len(f.Body)
	return n + m, nil
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

// framingError turns the module's error back into a framing error: a 4xx or 5xx code is
// the status the host answers with.
func framingError(op string, err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 600 {
		return &component.TransportError{Status: int(ae.Code), Reason: ae.Detail}
	}
	return fmt.Errorf("transport module: %s: %w", op, err)
}
