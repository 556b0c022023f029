package host

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"

	"github.com/tetratelabs/wazero/api"

	"github.com/microhost/microhost/abi"
)

// Stream is the stream a request opened, as its handler sees it: the server pipeline binds
// it to the client's connection. Both methods block until done or until ctx is; the host
// functions call them with the call's own context, so the request's deadline bounds them.
type Stream interface {
	// Send sends one message to the client. body is only valid during the call.
	Send(ctx context.Context, body []byte) error
	// Recv returns the client's next message, which the caller owns, or io.EOF once the
	// client has closed its side of the stream.
	Recv(ctx context.Context) ([]byte, error)
}

// Codes stream_send returns besides 0, as Go Micro codes.
const (
	streamNotAStream = http.StatusBadRequest
	streamTimeout    = http.StatusRequestTimeout
	// streamClientGone is the code, nginx's "client closed request", for a send to a client
	// that went away.
	streamClientGone = 499
)

// streamSend is the stream_send host function: it sends the guest's bytes as one message
// and returns 0, or a Go Micro code when the message could not be sent.
func streamSend(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportStreamSend)
	body := read(mod, abi.ImportStreamSend, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	stack[0] = api.EncodeI32(s.streamSend(body))
	s.stopIfDone()
}

func (s *callState) streamSend(body []byte) int32 {
	if s.req.Stream == nil {
		s.logger.Warn("stream_send: the request is not a stream", "endpoint", s.req.Endpoint)
		return streamNotAStream
	}
	if err := s.req.Stream.Send(s.ctx, body); err != nil {
		code := s.streamCode()
		s.logger.Debug("stream_send failed", "endpoint", s.req.Endpoint, "code", code, "err", err)
		return code
	}
	return 0
}

// streamCode is the code of a failed stream operation: 408 once the deadline passed, else
// 499, the client being gone (or the request cancelled with it).
func (s *callState) streamCode() int32 {
	if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
		return streamTimeout
	}
	return streamClientGone
}

// streamRecv is the stream_recv host function. It waits for the client's next message
// unless one is pending, and copies it into the guest's buffer if it fits; a message that
// does not fit stays pending, so the guest can call again with a buffer of the returned
// length. It returns abi.StreamEnd after the client's last message and abi.StreamFailed
// when no message can come.
func streamRecv(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportStreamRecv)
	buf, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	stack[0] = api.EncodeI32(s.streamRecv(mod, buf, capacity))
	s.stopIfDone()
}

func (s *callState) streamRecv(mod api.Module, buf, capacity uint32) int32 {
	if s.req.Stream == nil {
		s.logger.Warn("stream_recv: the request is not a stream", "endpoint", s.req.Endpoint)
		return abi.StreamFailed
	}
	if !s.hasPending {
		msg, err := s.req.Stream.Recv(s.ctx)
		if errors.Is(err, io.EOF) {
			return abi.StreamEnd
		}
		if err != nil {
			s.logger.Debug("stream_recv failed", "endpoint", s.req.Endpoint, "code", s.streamCode(), "err", err)
			return abi.StreamFailed
		}
		if len(msg) > math.MaxInt32 {
			s.logger.Warn("stream_recv: message too large for the ABI", "endpoint", s.req.Endpoint, "bytes", len(msg))
			return abi.StreamFailed
		}
		s.streamPending, s.hasPending = msg, true
	}
	n := copyOut(mod, abi.ImportStreamRecv, buf, capacity, s.streamPending)
	if n <= capacity {
		s.streamPending, s.hasPending = nil, false
	}
	return int32(n)
}

// streamState serves stream_send and stream_recv (stream.go): streamPending is a received
// message that did not fit the guest's buffer, hasPending tells an empty pending message
// from none.
type streamState struct {
	streamPending []byte
	hasPending    bool
}

func (st *streamState) reset() { st.streamPending, st.hasPending = nil, false }
