package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Streamer opens streams: the streaming counterpart of Caller, which a Caller implements
// when it can stream. It opens a stream to endpoint ("Service.Method") of the service
// registered as service, in contentType, with first as the opening request's body (the first
// message; empty for none), and returns it open. The Caller of host/client/rpccaller
// streams through the native client; GuestCaller cannot (see GuestCaller.Stream).
type Streamer interface {
	Stream(ctx context.Context, service, endpoint, contentType string, first []byte) (RawStream, error)
}

// RawStream is an open stream of bare message bodies, as host/client's *client.Stream.
// Send and CloseSend may be called from one goroutine while Recv is called from another.
type RawStream interface {
	// Send sends the next message.
	Send(msg []byte) error
	// CloseSend tells the service that no message follows.
	CloseSend() error
	// Recv returns the service's next message, io.EOF once the stream ended, or the error
	// that ended it (a handler's error in the Streamer's error type).
	Recv() ([]byte, error)
	// Close releases the stream, breaking it off when it has not ended.
	Close() error
}

// ClientStream is a generated client's side of a stream: the generated typed stream (such
// as Catalog_SyncClientStream) is a thin wrapper around it. Messages travel in the content
// type the stream was opened with. Send and CloseSend may be called from one goroutine while
// RecvMsg is called from another; call Close when done.
type ClientStream struct {
	raw         RawStream
	endpoint    string
	contentType string
}

// OpenServerStream opens a server-streaming call (one request, a stream of replies) to
// endpoint of service through c, which must implement Streamer: req, encoded in the call's
// content type (protobuf unless WithContentType says otherwise), is the opening message, and
// the sending side is closed at once. The replies come with RecvMsg.
func OpenServerStream(ctx context.Context, c Caller, service, endpoint string, req Message, opts ...CallOption) (*ClientStream, error) {
	o := NewCallOptions(opts...)
	first, err := Marshal(o.ContentType, req)
	if err != nil {
		return nil, fmt.Errorf("stream %s: encode the request as %s: %w", endpoint, o.ContentType, err)
	}
	s, err := open(ctx, c, service, endpoint, o.ContentType, first)
	if err != nil {
		return nil, err
	}
	if err := s.raw.CloseSend(); err != nil {
		_ = s.raw.Close()
		return nil, err
	}
	return s, nil
}

// OpenStream opens a client-streaming or bidirectional call to endpoint of service through
// c, which must implement Streamer. The opening request carries no message (the handler's
// side, HandleStream, takes an empty opening body as none), so the stream is open, and a
// missing service or node reported, before the first SendMsg, and every message travels
// alike.
func OpenStream(ctx context.Context, c Caller, service, endpoint string, opts ...CallOption) (*ClientStream, error) {
	o := NewCallOptions(opts...)
	return open(ctx, c, service, endpoint, o.ContentType, nil)
}

// open opens the stream through c's Streamer.
func open(ctx context.Context, c Caller, service, endpoint, contentType string, first []byte) (*ClientStream, error) {
	st, ok := c.(Streamer)
	if !ok {
		return nil, fmt.Errorf("stream %s of %s: the Caller (%T) cannot open streams: it does not implement rpc.Streamer", endpoint, service, c)
	}
	raw, err := st.Stream(ctx, service, endpoint, contentType, first)
	if err != nil {
		return nil, err
	}
	return &ClientStream{raw: raw, endpoint: endpoint, contentType: contentType}, nil
}

// SendMsg encodes m in the stream's content type and sends it.
func (s *ClientStream) SendMsg(m Message) error {
	b, err := Marshal(s.contentType, m)
	if err != nil {
		return fmt.Errorf("stream %s: encode a message as %s: %w", s.endpoint, s.contentType, err)
	}
	return s.raw.Send(b)
}

// RecvMsg receives the service's next message into m. It returns io.EOF, unwrapped, once
// the stream ended, and the error that ended it as the Streamer returned it (a handler's
// error keeps its type and code).
func (s *ClientStream) RecvMsg(m Message) error {
	b, err := s.raw.Recv()
	if err != nil {
		return err
	}
	if err := Unmarshal(s.contentType, b, m); err != nil {
		return fmt.Errorf("stream %s: decode a message as %s: %w", s.endpoint, s.contentType, err)
	}
	return nil
}

// CloseSend tells the service that no message follows; RecvMsg still returns its messages.
func (s *ClientStream) CloseSend() error {
	return s.raw.CloseSend()
}

// CloseAndRecv ends a client-streaming call: it closes the sending side, receives the one
// reply into m, reads on to the end of the stream and releases it. A handler that returned
// an error, even after its reply, makes it fail with that error; one that returned without
// replying, with an error wrapping io.ErrUnexpectedEOF.
func (s *ClientStream) CloseAndRecv(m Message) error {
	defer s.raw.Close()
	if err := s.raw.CloseSend(); err != nil {
		return err
	}
	if err := s.RecvMsg(m); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("stream %s: the stream ended without a reply: %w", s.endpoint, io.ErrUnexpectedEOF)
		}
		return err
	}
	switch _, err := s.raw.Recv(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	default:
		return fmt.Errorf("stream %s: more than one reply to a client-streaming call", s.endpoint)
	}
}

// Close releases the stream; one that has not ended is broken off, which its handler sees
// as the client being gone. It is safe to call more than once.
func (s *ClientStream) Close() error {
	return s.raw.Close()
}
