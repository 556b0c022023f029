package server

import (
	"context"
	"net/http"
	"slices"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/transport"
)

// streamContentTypes are the content types a stream may use: the bare codecs, whose
// messages are the bodies themselves. The envelope codecs (JSON-RPC, proto-RPC) frame one
// request and one reply, not a sequence.
var streamContentTypes = []string{"application/json", "application/protobuf", "application/octet-stream"}

// processStream serves a request that opened a stream. The handler gets the request body
// as its first message and host.Request.Stream for the others; each message it sends goes
// out at once as a frame of its own. The reply is the stream's last frame: the handler's
// final reply body (usually empty), or the Go Micro error that ended the stream. Streams
// carry bare messages, so only the bare content types are served; endpoint lookup, limits,
// the deadline and errors are the unary path's (invoke).
func (s *Server) processStream(ctx context.Context, r *request) reply {
	res, err := s.serveStream(ctx, r)
	if err != nil {
		return s.errorReply(ctx, r, err)
	}
	return s.okReply(r, res, res.Body)
}

func (s *Server) serveStream(ctx context.Context, r *request) (*host.Response, error) {
	if !slices.Contains(streamContentTypes, r.ct) {
		return nil, abi.NewError(s.opts.Name, http.StatusUnsupportedMediaType, "unsupported content type %q for a stream (streams use application/json, application/protobuf or application/octet-stream)", r.ct)
	}
	if err := s.checkSize(r); err != nil {
		return nil, err
	}
	return s.invoke(ctx, r)
}

// newStream is the handler's side of r's stream: every message it sends goes out in the
// request's content type, under its id.
func newStream(r *request) *stream {
	st := &stream{ts: r.msg.Stream, header: []component.TransportHeader{{Name: []byte(HeaderContentType), Value: []byte(r.ct)}}}
	if r.id != "" {
		st.header = append(st.header, component.TransportHeader{Name: []byte(HeaderID), Value: []byte(r.id)})
	}
	return st
}

// stream adapts the transport's stream to the handler's: every message goes out in the
// request's content type, under its id.
type stream struct {
	ts     transport.Stream
	header []component.TransportHeader
}

func (st *stream) Send(ctx context.Context, body []byte) error {
	return st.ts.Send(ctx, st.header, body)
}

func (st *stream) Recv(ctx context.Context) ([]byte, error) {
	return st.ts.Recv(ctx)
}

var _ host.Stream = (*stream)(nil)
