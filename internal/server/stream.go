package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
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
// final reply body (usually empty), or the Go Micro error that ended the stream.
func (s *Server) processStream(ctx context.Context, hdr headers, body []byte, ts transport.Stream) reply {
	ct := codec.MediaType(hdr.Get(HeaderContentType))
	if ct == "" {
		ct = "application/json"
	}
	call := &codec.Message{ID: hdr.Get(HeaderID), Service: hdr.Get(HeaderService)}
	res, err := s.serveStream(ctx, hdr, body, ct, call, ts)
	if err != nil {
		return s.errorReply(ctx, hdr, ct, nil, call, err)
	}
	h := make(map[string]string, len(res.Header)+2)
	for k, v := range res.Header {
		h[k] = v
	}
	if call.ID != "" {
		h[HeaderID] = call.ID
	}
	h[HeaderContentType] = ct
	return reply{status: http.StatusOK, header: h, body: res.Body}
}

func (s *Server) serveStream(ctx context.Context, hdr headers, body []byte, ct string, call *codec.Message, ts transport.Stream) (*host.Response, error) {
	supported := false
	for _, t := range streamContentTypes {
		supported = supported || t == ct
	}
	if !supported {
		return nil, abi.NewError(s.opts.Name, http.StatusUnsupportedMediaType, "unsupported content type %q for a stream (streams use application/json, application/protobuf or application/octet-stream)", ct)
	}
	if limit := s.maxBody(); int64(len(body)) > limit {
		return nil, abi.NewError(s.opts.Name, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", len(body), limit)
	}
	endpoint := hdr.Get(HeaderEndpoint)
	if endpoint == "" {
		endpoint = hdr.Get(HeaderMethod)
	}
	call.Endpoint = endpoint
	if endpoint == "" {
		return nil, abi.NewError(s.opts.Name, http.StatusBadRequest, "missing %s header (such as Counter.Count)", HeaderEndpoint)
	}
	h, ok := s.route(endpoint)
	if !ok {
		return nil, abi.NewError(s.opts.Name, http.StatusNotFound, "unknown endpoint %s", endpoint)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout(hdr))
	defer cancel()
	st := &stream{ts: ts, header: []component.TransportHeader{{Name: []byte(HeaderContentType), Value: []byte(ct)}}}
	if call.ID != "" {
		st.header = append(st.header, component.TransportHeader{Name: []byte(HeaderID), Value: []byte(call.ID)})
	}
	res, err := h.Call(ctx, &host.Request{Endpoint: endpoint, ContentType: ct, Header: hdr.Metadata(), Body: body, Stream: st})
	if err != nil {
		// A handler whose send or receive failed at the deadline returns that failure's
		// error: the caller sees the deadline.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, abi.NewError(s.opts.Name, http.StatusRequestTimeout, "%s did not finish before its deadline", endpoint)
		}
		return nil, s.callError(ctx, endpoint, err)
	}
	return res, nil
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
