package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// ErrStreamClosed is returned by ClientStream.Send after CloseSend, after the stream ended
// or after Close.
var ErrStreamClosed = errors.New("transport: stream closed")

// ClientStream is a stream open to a server, on a connection of its own. Send and CloseSend
// may be called from one goroutine while Recv is called from another.
type ClientStream struct {
	c    *Client
	addr string
	cc   *clientConn
	ctx  context.Context
	id   []byte
	// stop ends the watch that cuts the connection when ctx is done.
	stop func() bool

	wmu        sync.Mutex
	sendClosed bool
	werr       error

	rmu sync.Mutex
	// rn is how many bytes of cc.buf the reply last parsed takes.
	rn    int
	ended bool
	// last is the last frame's body, returned by the Recv after the frame (when not empty).
	last    []byte
	hasLast bool
	rerr    error

	mu       sync.Mutex
	released bool
}

// Stream opens a stream to addr on a new connection: it sends one request with headers and
// body, the stream's first message. headers may carry HeaderStream with the stream's id;
// "true" is sent otherwise. The context bounds the whole stream; cancelling it breaks the
// stream off. The connection joins the pool after a clean end (the server's last frame read,
// the client's side closed); Close abandons the stream and its connection.
func (c *Client) Stream(ctx context.Context, addr string, headers []component.TransportHeader, body []byte) (*ClientStream, error) {
	cc, _, err := c.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cs := &ClientStream{c: c, addr: addr, cc: cc, ctx: ctx, id: []byte("true")}
	hdr := make([]component.TransportHeader, 0, len(headers)+1)
	for _, h := range headers {
		if len(h.Name) == len(HeaderStream) && bytes.EqualFold(h.Name, []byte(HeaderStream)) {
			if len(h.Value) > 0 {
				cs.id = h.Value
			}
			continue
		}
		hdr = append(hdr, h)
	}
	hdr = append(hdr, component.TransportHeader{Name: []byte(HeaderStream), Value: cs.id})
	dl, _ := ctx.Deadline()
	_ = cc.SetDeadline(dl)
	cs.stop = context.AfterFunc(ctx, func() { _ = cc.SetDeadline(time.Unix(1, 0)) })
	cs.wmu.Lock()
	err = cs.write(hdr, body)
	cs.wmu.Unlock()
	if err != nil {
		cs.release(false)
		return nil, err
	}
	return cs, nil
}

// fail wraps an I/O error: the context's error once it is done, else ErrTransport.
func (cs *ClientStream) fail(op string, err error) error {
	if ctxErr := cs.ctx.Err(); ctxErr != nil {
		return fmt.Errorf("stream to %s: %s: %w", cs.addr, op, ctxErr)
	}
	if errors.Is(err, io.EOF) {
		// The connection closed before the stream's end mark: a cut stream, never the end.
		return fmt.Errorf("%w: stream to %s: %s: the connection closed before the stream's end: %w", ErrTransport, cs.addr, op, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w: stream to %s: %s: %w", ErrTransport, cs.addr, op, err)
}

// write sends one request on the stream; the caller holds wmu.
func (cs *ClientStream) write(headers []component.TransportHeader, body []byte) error {
	if cs.werr != nil {
		return cs.werr
	}
	var err error
	if cs.cc.out, err = cs.cc.framer.Request(cs.ctx, cs.cc.out[:0], cs.addr, headers, len(body)); err != nil {
		cs.werr = cs.fail("send", err)
		return cs.werr
	}
	bufs := net.Buffers{cs.cc.out, body}
	if _, err := bufs.WriteTo(cs.cc); err != nil {
		cs.werr = cs.fail("send", err)
		return cs.werr
	}
	return nil
}

// Send sends the next message.
func (cs *ClientStream) Send(body []byte) error {
	cs.wmu.Lock()
	defer cs.wmu.Unlock()
	if cs.sendClosed {
		return ErrStreamClosed
	}
	err := cs.write([]component.TransportHeader{{Name: []byte(HeaderStream), Value: cs.id}}, body)
	if err != nil {
		cs.release(false)
	}
	return err
}

// CloseSend tells the server no message follows; Recv still returns the server's. It is
// safe to call more than once.
func (cs *ClientStream) CloseSend() error {
	cs.wmu.Lock()
	defer cs.wmu.Unlock()
	if cs.sendClosed {
		return nil
	}
	cs.sendClosed = true
	// Go Micro's server knows the end of a client's side by its EOS mark, microhost's by
	// either.
	err := cs.write([]component.TransportHeader{
		{Name: []byte(HeaderStream), Value: cs.id},
		{Name: []byte(HeaderStreamEnd), Value: []byte("true")},
		{Name: []byte(headerError), Value: []byte(goMicroEOS)},
	}, nil)
	if err != nil {
		cs.release(false)
	}
	return err
}

// Recv returns the server's next message, a copy the caller owns. After the server's last
// frame it returns io.EOF, or the Go Micro error that ended the stream as an *abi.Error; a
// failure of the connection wraps ErrTransport, or the context's error.
func (cs *ClientStream) Recv() ([]byte, error) {
	cs.rmu.Lock()
	defer cs.rmu.Unlock()
	switch {
	case cs.hasLast:
		cs.hasLast = false
		return cs.last, nil
	case cs.rerr != nil:
		return nil, cs.rerr
	case cs.ended:
		return nil, io.EOF
	}
	msg, end, err := cs.recv()
	if err != nil {
		cs.rerr = err
		cs.release(false)
		return nil, err
	}
	if !end {
		return msg, nil
	}
	cs.ended = true
	cs.finish()
	if cs.rerr != nil {
		return nil, cs.rerr
	}
	if len(msg) > 0 {
		return msg, nil
	}
	return nil, io.EOF
}

// recv reads and parses the next frame. A Go Micro error ends the stream: it comes back
// in cs.rerr with end set.
func (cs *ClientStream) recv() (msg []byte, end bool, err error) {
	cc := cs.cc
	if cs.rn > 0 {
		cc.buf = cc.buf[:copy(cc.buf, cc.buf[cs.rn:])]
		cs.rn = 0
	}
	for {
		n, err := cc.framer.Response(cs.ctx, cc.buf, cs.c.opts.Limits, &cc.rsp)
		if err != nil {
			return nil, false, cs.fail("receive", err)
		}
		if n > 0 {
			cs.rn = n
			break
		}
		if len(cc.buf) == cap(cc.buf) {
			grown := make([]byte, len(cc.buf), max(4096, 2*cap(cc.buf)))
			copy(grown, cc.buf)
			cc.buf = grown
		}
		m, err := cc.Read(cc.buf[len(cc.buf):cap(cc.buf)])
		cc.buf = cc.buf[:len(cc.buf)+m]
		if err != nil {
			return nil, false, cs.fail("receive", err)
		}
	}
	rsp := &cc.rsp
	var inStream bool
	var microErr []byte
	for _, h := range rsp.Headers {
		switch {
		case bytes.EqualFold(h.Name, []byte(HeaderStream)):
			inStream = len(h.Value) > 0
		case bytes.EqualFold(h.Name, []byte(HeaderStreamEnd)):
			end = end || bytes.EqualFold(h.Value, []byte("true"))
		case bytes.EqualFold(h.Name, []byte(headerError)):
			// Go Micro's end-of-stream mark ends the stream without an error.
			if string(h.Value) == goMicroEOS {
				end = true
			} else {
				microErr = h.Value
			}
		}
	}
	// A server that does not speak streams answers the opening request as a unary call:
	// that reply is the stream's only frame, and the connection is not reused.
	if !inStream {
		end = true
		rsp.KeepAlive = false
	}
	switch {
	case len(microErr) > 0:
		cs.rerr = abi.ParseError(string(microErr))
		return nil, true, nil
	case rsp.Status != 200:
		cs.rerr = abi.ParseError(string(rsp.Body))
		return nil, true, nil
	}
	return append([]byte{}, rsp.Body...), end, nil
}

// finish follows the server's last frame: it closes the sending side if the caller did not,
// and gives the connection back to the pool when nothing is left on it.
func (cs *ClientStream) finish() {
	clean := cs.cc.rsp.KeepAlive && cs.rn == len(cs.cc.buf)
	if err := cs.CloseSend(); err != nil {
		clean = false
	}
	cs.wmu.Lock()
	clean = clean && cs.werr == nil
	cs.wmu.Unlock()
	cs.release(clean)
}

// release ends the stream's hold on its connection, pooling it when reuse says so and the
// context did not cut it, else closing it. Only the first call counts.
func (cs *ClientStream) release(reuse bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.released {
		return
	}
	cs.released = true
	if cs.stop() && reuse {
		cs.cc.buf = cs.cc.buf[:0]
		cs.c.put(cs.addr, cs.cc)
		return
	}
	cs.cc.Close()
}

// Close abandons the stream: unless it already ended cleanly, its connection is closed,
// which the server's handler sees as the client being gone. It is safe to call more than
// once and concurrently with Send and Recv, which then fail.
func (cs *ClientStream) Close() error {
	cs.release(false)
	return nil
}
