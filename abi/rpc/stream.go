package rpc

import (
	"fmt"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

// HandlerStream is a generated streaming handler's side of a stream: the generated typed
// stream (such as Catalog_SyncStream) is a thin wrapper around it. Messages travel in the
// opening request's Content-Type, protobuf or JSON as in Serve.
type HandlerStream struct {
	stream      *guest.Stream
	endpoint    string
	contentType string
	// first is the opening message, which RecvMsg returns before asking the host for more;
	// pending says it has not been returned yet.
	first   []byte
	pending bool
	// closed is set once SendAndClose sent the one reply of a client-streaming method.
	closed bool
}

// newHandlerStream wraps the stream r opened.
func newHandlerStream(r *guest.Request, s *guest.Stream) *HandlerStream {
	ct, _ := r.Header("Content-Type")
	return &HandlerStream{stream: s, endpoint: r.Endpoint, contentType: ct}
}

// HandleServerStream registers e as a server-streaming endpoint (one request, a stream of
// replies), with e's message names for the registry. h gets the stream: it decodes the
// opening request with Request, then sends the replies. It is what generated code registers
// a server-streaming method with; call it from init.
func HandleServerStream(e abi.Endpoint, h func(s *HandlerStream) error) {
	guest.HandleStreamEndpoint(e, func(r *guest.Request, gs *guest.Stream) error {
		s := newHandlerStream(r, gs)
		s.first, s.pending = r.Body, true
		return h(s)
	})
}

// Request decodes the opening request of a server-streaming endpoint into m, as Serve
// decodes a unary request: an empty protobuf body is a request with every field at its
// default, and a body that does not decode is answered with a 400 "malformed JSON request
// for ENDPOINT" or "malformed protobuf request for ENDPOINT". It fails on a stream that
// HandleServerStream did not open, or once the request was read.
func (s *HandlerStream) Request(m Message) error {
	if !s.pending {
		return fmt.Errorf("stream %s: no opening request to decode", s.endpoint)
	}
	b := s.first
	s.first, s.pending = nil, false
	return s.decode(b, m, "request")
}

// HandleStream registers e as a client-streaming or bidirectional endpoint, with e's
// message names for the registry: h receives the client's messages with RecvMsg until io.EOF. The opening request's body,
// when not empty, is the first message RecvMsg returns; an empty one is no message, which
// is how a generated client opens such a stream (its every message then follows the opening
// request). A raw client that opens with its first message in the body is served the same,
// unless that message encodes to nothing (a protobuf message with every field at its
// default): send it after the opening request instead. It is what generated code registers
// a client-streaming or bidirectional method with; call it from init.
func HandleStream(e abi.Endpoint, h func(s *HandlerStream) error) {
	guest.HandleStreamEndpoint(e, func(r *guest.Request, gs *guest.Stream) error {
		s := newHandlerStream(r, gs)
		s.first, s.pending = r.Body, len(r.Body) > 0
		return h(s)
	})
}

// SendMsg encodes m in the stream's content type and sends it to the client. A failed send
// is the guest SDK's *guest.Error (499 once the client is gone, 408 at the deadline): the
// handler should return it.
func (s *HandlerStream) SendMsg(m Message) error {
	if s.closed {
		return fmt.Errorf("stream %s: send after SendAndClose", s.endpoint)
	}
	b, err := Marshal(s.contentType, m)
	if err != nil {
		return fmt.Errorf("stream %s: encode a message as %s: %w", s.endpoint, s.contentType, err)
	}
	return s.stream.Send(b)
}

// SendAndClose sends m as the one reply of a client-streaming method; the handler should
// then return nil. Nothing may be sent after it.
func (s *HandlerStream) SendAndClose(m Message) error {
	if err := s.SendMsg(m); err != nil {
		return err
	}
	s.closed = true
	return nil
}

// RecvMsg receives the client's next message into m: the opening request's body first (see
// HandleStream), then each message the client sends. It returns io.EOF, unwrapped, once the
// client has closed its side, the guest SDK's *guest.Error when no message can come, and a
// 400 *guest.Error ("malformed JSON message for ENDPOINT", or protobuf) for a message that
// does not decode.
func (s *HandlerStream) RecvMsg(m Message) error {
	var b []byte
	if s.pending {
		b, s.first, s.pending = s.first, nil, false
	} else {
		var err error
		if b, err = s.stream.Recv(); err != nil {
			return err
		}
	}
	return s.decode(b, m, "message")
}

// decode decodes b into m, answering a body that does not decode with a 400 that names what
// it was ("request" or "message"); the decoder's own error goes to the host's log at debug
// level.
func (s *HandlerStream) decode(b []byte, m Message, what string) error {
	if err := Unmarshal(s.contentType, b, m); err != nil {
		format := "JSON"
		if IsProtobuf(s.contentType) {
			format = "protobuf"
		}
		guest.Log(abi.LogDebug, fmt.Sprintf("malformed %s %s for %s: %v", format, what, s.endpoint, err))
		return guest.BadRequest("malformed %s %s for %s", format, what, s.endpoint)
	}
	return nil
}
