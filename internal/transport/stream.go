package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/microhost/microhost/host/component"
)

// Headers of microhost's streams. A request with HeaderStream opens a stream, or carries
// the client's next message on the stream open on its connection; every frame the server
// sends on a stream carries it too. HeaderStreamEnd marks the last frame each side sends.
const (
	// HeaderStream carries the stream's id, as Go Micro's does; any non-empty value opens a
	// stream.
	HeaderStream = component.HeaderMicroStream
	// HeaderStreamEnd is "true" on the last frame of each side: the client's empty request
	// that closes its sending side, the server's reply that ends the stream.
	HeaderStreamEnd = component.HeaderMicroStreamEnd
	// goMicroEOS is the Micro-Error value with which Go Micro ends its side of a stream.
	// The server takes it as the client's end too, and puts it on a clean last frame that
	// carries no message, which Go Micro's client reads as the end of the stream;
	// microhost's client reads it as no error.
	goMicroEOS = "EOS"
)

// Stream is a stream open on a server connection, as the handler sees it. Send and Recv
// must not be called concurrently with each other.
type Stream interface {
	// Send writes one message to the client: a 200 reply with header and body. header must
	// not carry HeaderStream, which Send adds.
	Send(ctx context.Context, header []component.TransportHeader, body []byte) error
	// Recv returns the body of the client's next message, a copy the caller owns, or
	// io.EOF after the client closed its sending side.
	Recv(ctx context.Context) ([]byte, error)
}

// streamMarks reads the stream headers of a request: the stream id when it belongs to a
// stream, and whether it ends the client's side.
func streamMarks(hs []component.TransportHeader) (id []byte, end bool) {
	for _, h := range hs {
		switch {
		case len(h.Name) == len(HeaderStream) && bytes.EqualFold(h.Name, []byte(HeaderStream)):
			if len(h.Value) > 0 && id == nil {
				id = h.Value
			}
		case len(h.Name) == len(HeaderStreamEnd) && bytes.EqualFold(h.Name, []byte(HeaderStreamEnd)):
			end = end || bytes.EqualFold(h.Value, []byte("true"))
		case len(h.Name) == len(headerError) && bytes.EqualFold(h.Name, []byte(headerError)):
			end = end || string(h.Value) == goMicroEOS
		}
	}
	return id, end
}

// serverStream is the stream a request opened on a server connection.
type serverStream struct {
	sc  *serverConn
	id  []byte
	out []byte
	// clientDone is set once the client closed its sending side.
	clientDone bool
	// sendErr and recvErr are the first failures writing and reading; either makes the
	// connection unusable after the stream.
	sendErr, recvErr error
}

// openStream turns the request just framed into a stream: msg's header and body become
// copies, as the buffer they were framed from is reused for the client's next messages.
func (sc *serverConn) openStream(msg *Message, id []byte) *serverStream {
	st := &serverStream{sc: sc, id: bytes.Clone(id)}
	msg.Body = append([]byte{}, msg.Body...)
	hs := make([]component.TransportHeader, len(msg.Header))
	for i, h := range msg.Header {
		hs[i] = component.TransportHeader{Name: bytes.Clone(h.Name), Value: bytes.Clone(h.Value)}
	}
	msg.Header = hs
	if _, end := streamMarks(sc.f.Headers); end {
		st.clientDone = true
	}
	msg.Stream = st
	return st
}

// Send implements Stream.
func (st *serverStream) Send(ctx context.Context, header []component.TransportHeader, body []byte) error {
	if st.sendErr != nil {
		return st.sendErr
	}
	hdr := append(header[:len(header):len(header)], component.TransportHeader{Name: []byte(HeaderStream), Value: st.id})
	out, err := st.sc.framer.Head(ctx, st.out[:0], 200, hdr, len(body), true)
	if err != nil {
		return fmt.Errorf("stream: encode a message head: %w", err)
	}
	st.out = out
	return st.write(ctx, out, body)
}

// write writes one frame, within the write timeout and ctx.
func (st *serverStream) write(ctx context.Context, head, body []byte) error {
	c := st.sc.c
	dl := time.Now().Add(st.sc.s.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetWriteDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	bufs := net.Buffers{head, body}
	if _, err := bufs.WriteTo(c); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		st.sendErr = fmt.Errorf("stream: send: %w", err)
		return st.sendErr
	}
	return nil
}

// Recv implements Stream.
func (st *serverStream) Recv(ctx context.Context) ([]byte, error) {
	switch {
	case st.recvErr != nil:
		return nil, st.recvErr
	case st.clientDone:
		return nil, io.EOF
	}
	msg, err := st.recv(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		st.recvErr = fmt.Errorf("stream: receive: %w", err)
		return nil, st.recvErr
	}
	return msg, err
}

// recv frames the client's next message on the stream.
func (st *serverStream) recv(ctx context.Context) ([]byte, error) {
	c := st.sc.c
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	err := st.sc.next(ctx, true)
	stop()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if errors.Is(err, io.EOF) {
			// The connection closed mid-stream: not the client's clean end.
			return nil, fmt.Errorf("the client closed the connection: %w", io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	id, end := streamMarks(st.sc.f.Headers)
	if id == nil {
		return nil, fmt.Errorf("the client sent a request without %s while a stream is open", HeaderStream)
	}
	if end {
		// The end may carry a last message (Go Micro's carries none).
		st.clientDone = true
		if len(st.sc.f.Body) == 0 {
			return nil, io.EOF
		}
	}
	return append([]byte{}, st.sc.f.Body...), nil
}

// headerError is Go Micro's error header.
const headerError = component.HeaderMicroError

// cleanEnd reports whether reply ends a stream without an error and without a last
// message, so that its frame can carry Go Micro's end-of-stream mark.
func cleanEnd(reply *Reply) bool {
	if reply.Status != 200 || len(reply.Body) > 0 {
		return false
	}
	for _, h := range reply.Header {
		if bytes.EqualFold(h.Name, []byte(headerError)) {
			return false
		}
	}
	return true
}

// end writes the stream's last frame, reply with HeaderStreamEnd, and reads on to the
// client's end of the stream, discarding the messages the handler did not receive. It
// reports whether the connection can serve another request.
func (st *serverStream) end(ctx context.Context, reply *Reply, keepAlive bool) bool {
	if st.sendErr != nil {
		return false
	}
	keepAlive = keepAlive && st.recvErr == nil
	hdr := make([]component.TransportHeader, 0, len(reply.Header)+3)
	hdr = append(hdr, reply.Header...)
	hdr = append(hdr, component.TransportHeader{Name: []byte(HeaderStream), Value: st.id},
		component.TransportHeader{Name: []byte(HeaderStreamEnd), Value: []byte("true")})
	if cleanEnd(reply) {
		hdr = append(hdr, component.TransportHeader{Name: []byte(headerError), Value: []byte(goMicroEOS)})
	}
	out, err := st.sc.framer.Head(ctx, st.out[:0], reply.Status, hdr, len(reply.Body), keepAlive)
	if err != nil {
		st.sc.s.logger.Warn("transport: encoding a stream's last reply failed", "err", err)
		return false
	}
	if st.write(ctx, out, reply.Body) != nil || !keepAlive {
		return false
	}
	for !st.clientDone {
		if _, err := st.recv(ctx); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
	return true
}
