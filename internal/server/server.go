// Package server is the server pipeline: it reads Go Micro "mucp" requests over HTTP,
// decodes them by content type, dispatches them by endpoint to a handler module and writes
// the reply, or a Go Micro error.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/telemetry"
	"github.com/microhost/microhost/internal/transport"
)

// Headers of Go Micro's mucp protocol.
const (
	HeaderID          = component.HeaderMicroID
	HeaderService     = component.HeaderMicroService
	HeaderEndpoint    = component.HeaderMicroEndpoint
	HeaderMethod      = component.HeaderMicroMethod
	HeaderError       = component.HeaderMicroError
	HeaderTimeout     = component.HeaderTimeout
	HeaderContentType = component.HeaderContentType
)

// Handler serves the endpoints of one module. *host.Module satisfies it.
type Handler interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
	Descriptor() abi.Descriptor
}

// Codecs finds the codec for a request's content type. *codec.Registry satisfies it.
type Codecs interface {
	Lookup(contentType string) (*codec.Codec, bool)
	ContentTypes() []string
}

// Options configure a Server.
type Options struct {
	// Name is the service's name, used as the id of the errors it returns.
	Name string
	// MaxBodyBytes caps request bodies; larger ones get a 413 error.
	MaxBodyBytes int64
	// Timeout is the handler deadline when a request carries no Timeout header.
	Timeout time.Duration
	// Logger receives request failures. Nil discards them.
	Logger *slog.Logger
	// Codecs decode requests and encode replies by content type, such as
	// codec.NativeRegistry(catalogue). Nil serves no content type.
	Codecs Codecs
	// Telemetry observes each request (its duration metric and its span); nil observes
	// nothing.
	Telemetry *telemetry.Telemetry
}

// Server routes requests to handlers by endpoint. It is an http.Handler.
type Server struct {
	opts   Options
	logger *slog.Logger
	// endpoints maps each endpoint to its handler; SetHandlers replaces the map whole.
	endpoints atomic.Pointer[map[string]Handler]
}

// New returns a Server for handlers. Two handlers serving the same endpoint is an error.
func New(opts Options, handlers ...Handler) (*Server, error) {
	s := &Server{opts: opts, logger: opts.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.opts.Codecs == nil {
		s.opts.Codecs = codec.NewRegistry()
	}
	if err := s.SetHandlers(handlers...); err != nil {
		return nil, err
	}
	return s, nil
}

// SetHandlers replaces the handlers at once, as after a live swap changed a module's
// endpoints: a request is routed by either the old set or the new one. Two handlers serving
// the same endpoint is an error, and the old set stays.
func (s *Server) SetHandlers(handlers ...Handler) error {
	routes := map[string]Handler{}
	for _, h := range handlers {
		d := h.Descriptor()
		for _, e := range d.Endpoints {
			if _, dup := routes[e.Name]; dup {
				return fmt.Errorf("endpoint %s is served by two modules (the second is %s)", e.Name, d.Name)
			}
			routes[e.Name] = h
		}
	}
	s.endpoints.Store(&routes)
	return nil
}

// methodLabel is the method label of a request's metrics: its endpoint when the service
// serves it, else telemetry.Other, so that a caller cannot add label values.
func (s *Server) methodLabel(endpoint string) string {
	if _, ok := s.route(endpoint); ok {
		return endpoint
	}
	return telemetry.Other
}

// route returns the handler of endpoint.
func (s *Server) route(endpoint string) (Handler, bool) {
	h, ok := (*s.endpoints.Load())[endpoint]
	return h, ok
}

// Endpoints lists the endpoints served, for the registry.
func (s *Server) Endpoints() []abi.Endpoint {
	seen := map[string]bool{}
	var out []abi.Endpoint
	for _, h := range *s.endpoints.Load() {
		d := h.Descriptor()
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		out = append(out, d.Endpoints...)
	}
	return out
}

// reply is the pipeline's answer, for the transport to write: its header fields go out as
// they are listed.
type reply struct {
	// code is the Go Micro status code: 200, or the error's code.
	code   int32
	status int
	header []component.TransportHeader
	body   []byte
}

// addHeader appends one header field to hs.
func addHeader(hs []component.TransportHeader, name, value string) []component.TransportHeader {
	return append(hs, component.TransportHeader{Name: []byte(name), Value: []byte(value)})
}

// ServeHTTP implements http.Handler, for serving the pipeline from net/http. net/http's
// header map is turned into the transport's field list once, here, at the edge.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, obs := s.opts.Telemetry.StartServe(r.Context(), r.Header.Get)
	r = r.WithContext(ctx)
	msg := &transport.Message{Header: make([]component.TransportHeader, 0, len(r.Header))}
	for k, vs := range r.Header {
		if len(vs) > 0 {
			msg.Header = addHeader(msg.Header, k, vs[0])
		}
	}
	var rep reply
	req := &request{msg: msg}
	if r.Method != http.MethodPost {
		rep = s.errorReply(r.Context(), req,
			abi.NewError(s.opts.Name, http.StatusMethodNotAllowed, "method %s not allowed: send a POST", r.Method))
	} else if body, err := s.readBody(r); err != nil {
		rep = s.errorReply(r.Context(), req, err)
	} else {
		msg.Body = body
		req = s.newRequest(msg)
		rep = s.process(r.Context(), req)
	}
	obs.End(s.methodLabel(req.endpoint), rep.code)
	h := w.Header()
	for _, f := range rep.header {
		h.Set(string(f.Name), string(f.Value))
	}
	h.Set(component.HeaderContentLength, strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// ServeMessage implements transport.Handler: the pipeline behind microhost's own transport.
func (s *Server) ServeMessage(ctx context.Context, m *transport.Message) *transport.Reply {
	ctx, obs := s.opts.Telemetry.StartServe(ctx, m.Get)
	req := s.newRequest(m)
	var rep reply
	if m.Stream != nil {
		rep = s.processStream(ctx, req)
	} else {
		rep = s.process(ctx, req)
	}
	obs.End(s.methodLabel(req.endpoint), rep.code)
	return &transport.Reply{Status: rep.status, Header: rep.header, Body: rep.body}
}

// request is one request on its way through the server, unary or stream: built once from
// the header fields and body the transport framed, completed by the codec (the bare body and
// its content type, the envelope's id and endpoint), and handed to the handler. Both kinds of
// request share its endpoint lookup, limits, deadline and error mapping.
type request struct {
	// msg is the request as the transport framed it; its header fields are read where
	// they lie.
	msg *transport.Message
	// ct is the wire content type (JSON when the request names none); c its codec, nil
	// for a stream, whose messages are bare.
	ct string
	c  *codec.Codec
	// id, service and endpoint are what the reply echoes.
	id, service, endpoint string
	// bareType and body are the bare body and its content type once decoded.
	bareType string
	body     []byte
}

// newRequest starts a request from the message the transport framed.
func (s *Server) newRequest(m *transport.Message) *request {
	ct := codec.MediaType(m.Get(HeaderContentType))
	if ct == "" {
		ct = "application/json"
	}
	r := &request{msg: m, ct: ct, id: m.Get(HeaderID), service: m.Get(HeaderService), body: m.Body, bareType: ct}
	r.endpoint = m.Get(HeaderEndpoint)
	if r.endpoint == "" {
		r.endpoint = m.Get(HeaderMethod)
	}
	return r
}

// metadata is the caller's metadata read in place (host.Metadata): the request's header
// fields less the transport's, as Go Micro's server hands them on (the first of repeated
// fields wins). Nothing is built until the handler asks for a key.
type metadata []component.TransportHeader

// Get implements host.Metadata.
func (md metadata) Get(key string) (string, bool) {
	if transportHeader(key) {
		return "", false
	}
	for _, f := range md {
		if string(f.Name) == key {
			return string(f.Value), true
		}
	}
	for _, f := range md {
		if len(f.Name) == len(key) && strings.EqualFold(string(f.Name), key) {
			return string(f.Value), true
		}
	}
	return "", false
}

// All implements host.Metadata.
func (md metadata) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
	next:
		for i, f := range md {
			k := string(f.Name)
			if transportHeader(k) {
				continue
			}
			for _, g := range md[:i] {
				if string(g.Name) == k {
					continue next
				}
			}
			if !yield(k, string(f.Value)) {
				return
			}
		}
	}
}

// message is the codec's view of the request's reply.
func (r *request) message(body []byte, errText string) *codec.Message {
	return &codec.Message{ID: r.id, Service: r.service, Endpoint: r.endpoint, ContentType: r.bareType, Body: body, Error: errText}
}

// process runs one unary request through the pipeline. The request's Content-Type chooses
// the codec (JSON when absent); the handler gets the bare body, and its reply is encoded in
// the request's codec.
//
// Errors go out as Go Micro errors: in the Micro-Error header, and in the body as the codec
// carries them (the JSON error itself for JSON, the envelope's error for JSON-RPC and
// proto-RPC, nothing for protobuf). A request with a Micro-Id header comes from an RPC client,
// such as Go Micro's, whose HTTP transport treats any status but 200 as a broken transport,
// so its errors are answered with 200; any other request gets the error's code as the HTTP
// status, which is what curl users expect.
func (s *Server) process(ctx context.Context, r *request) reply {
	r.c, _ = s.opts.Codecs.Lookup(r.ct)
	res, err := s.serve(ctx, r)
	if err != nil {
		return s.errorReply(ctx, r, err)
	}
	// Codec calls use the request's context, not the handler's deadline, so a reply can
	// still be written when the handler used up its time.
	wire, err := r.c.WriteResponse(ctx, r.ct, r.message(res.Body, ""))
	if err != nil {
		s.logger.Warn("encoding a reply failed", "endpoint", r.endpoint, "content_type", r.ct, "err", err)
		return s.errorReply(ctx, r, s.codecError(fmt.Sprintf("encode the reply of %s", r.endpoint), http.StatusInternalServerError, err))
	}
	return s.okReply(r, res, wire)
}

// okReply is the reply to a request whose handler succeeded: its metadata, the request's id
// and content type, and body.
func (s *Server) okReply(r *request, res *host.Response, body []byte) reply {
	h := make([]component.TransportHeader, 0, len(res.Header)+2)
	for k, v := range res.Header {
		if !strings.EqualFold(k, HeaderID) && !strings.EqualFold(k, HeaderContentType) {
			h = addHeader(h, k, v)
		}
	}
	if r.id != "" {
		h = addHeader(h, HeaderID, r.id)
	}
	h = addHeader(h, HeaderContentType, r.ct)
	return reply{code: http.StatusOK, status: http.StatusOK, header: h, body: body}
}

// serve decodes a unary request with its codec and calls its handler.
func (s *Server) serve(ctx context.Context, r *request) (*host.Response, error) {
	if r.c == nil {
		return nil, abi.NewError(s.opts.Name, http.StatusUnsupportedMediaType, "unsupported content type %q (supported: %s; set the Content-Type header)", r.ct, strings.Join(s.opts.Codecs.ContentTypes(), ", "))
	}
	if err := s.checkSize(r); err != nil {
		return nil, err
	}
	msg, err := r.c.ReadRequest(ctx, r.ct, r.body)
	if err != nil {
		return nil, s.codecError("", http.StatusBadRequest, err)
	}
	// The envelope's id wins over the header's, as in Go Micro, so the reply echoes it; the
	// headers' endpoint wins over the envelope's.
	if msg.ID != "" {
		r.id = msg.ID
	}
	if r.endpoint == "" {
		r.endpoint = msg.Endpoint
	}
	r.bareType, r.body = msg.ContentType, msg.Body
	return s.invoke(ctx, r)
}

// checkSize refuses a body over the limit.
func (s *Server) checkSize(r *request) error {
	if limit := s.maxBody(); int64(len(r.body)) > limit {
		return abi.NewError(s.opts.Name, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", len(r.body), limit)
	}
	return nil
}

// invoke finds the request's handler and calls it under the request's deadline; unary and
// stream requests alike.
func (s *Server) invoke(ctx context.Context, r *request) (*host.Response, error) {
	if r.endpoint == "" {
		return nil, abi.NewError(s.opts.Name, http.StatusBadRequest, "missing %s header (such as Greeter.Hello)", HeaderEndpoint)
	}
	h, ok := s.route(r.endpoint)
	if !ok {
		return nil, abi.NewError(s.opts.Name, http.StatusNotFound, "unknown endpoint %s", r.endpoint)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout(r.msg))
	defer cancel()
	call := &host.Request{Endpoint: r.endpoint, ContentType: r.bareType, Fields: metadata(r.msg.Header), Body: r.body}
	if r.msg.Stream != nil {
		call.Stream = newStream(r)
	}
	res, err := h.Call(ctx, call)
	if err != nil {
		// A stream handler whose send or receive failed at the deadline returns that
		// failure's error: the caller sees the deadline.
		if r.msg.Stream != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, abi.NewError(s.opts.Name, http.StatusRequestTimeout, "%s did not finish before its deadline", r.endpoint)
		}
		return nil, s.callError(ctx, r.endpoint, err)
	}
	return res, nil
}

// codecError is the Go Micro error for a codec's failure: the codec's own code and detail
// when it gave one, else code with the error as detail.
func (s *Server) codecError(what string, code int32, err error) *abi.Error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		out := *ae
		out.ID = s.opts.Name
		if what != "" {
			out.Detail = what + ": " + out.Detail
		}
		return &out
	}
	if what != "" {
		return abi.NewError(s.opts.Name, code, "%s: %v", what, err)
	}
	return abi.NewError(s.opts.Name, code, "%v", err)
}

func (s *Server) maxBody() int64 {
	if s.opts.MaxBodyBytes <= 0 {
		return 4 << 20
	}
	return s.opts.MaxBodyBytes
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := s.maxBody()
	if r.ContentLength > limit {
		return nil, abi.NewError(s.opts.Name, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, abi.NewError(s.opts.Name, http.StatusBadRequest, "reading body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, abi.NewError(s.opts.Name, http.StatusRequestEntityTooLarge, "body is over the limit of %d bytes", limit)
	}
	return body, nil
}

// timeout is the handler deadline: the Timeout header (nanoseconds, as Go Micro sends it)
// when present and shorter, else the configured default.
func (s *Server) timeout(hdr *transport.Message) time.Duration {
	d := s.opts.Timeout
	if d <= 0 {
		d = 5 * time.Second
	}
	if v := hdr.Get(HeaderTimeout); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && time.Duration(n) < d {
			d = time.Duration(n)
		}
	}
	return d
}

// callError turns a module's error into the Go Micro error the caller sees.
func (s *Server) callError(ctx context.Context, endpoint string, err error) error {
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		out := *ae
		out.ID = s.opts.Name
		return &out
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return abi.NewError(s.opts.Name, http.StatusRequestTimeout, "%s did not finish before its deadline", endpoint)
	case errors.Is(err, host.ErrGuestFault):
		// The fault's text carries the guest's stack trace and the runtime's internals: the
		// log keeps them, the caller gets a short message.
		s.logger.Warn("handler fault", "endpoint", endpoint, "err", err)
		return abi.NewError(s.opts.Name, http.StatusInternalServerError, "handler for %s failed (the handler faulted; the service's log has the details)", endpoint)
	default:
		s.logger.Warn("call failed", "endpoint", endpoint, "err", err)
		return abi.NewError(s.opts.Name, http.StatusServiceUnavailable, "handler for %s is unavailable (the service's log has the details)", endpoint)
	}
}

// errorReply answers r with err as a Go Micro error (see process), encoded by r's codec when
// it has one.
func (s *Server) errorReply(ctx context.Context, r *request, err error) reply {
	var ae *abi.Error
	if !errors.As(err, &ae) {
		ae = abi.NewError(s.opts.Name, http.StatusInternalServerError, "%v", err)
	}
	text := ae.Error()
	body, bodyType := []byte(text), "application/json"
	if r.c != nil {
		wire, werr := r.c.WriteResponse(ctx, r.ct, r.message(nil, text))
		if werr == nil {
			body, bodyType = wire, r.ct
		} else {
			s.logger.Warn("encoding an error reply failed; answering in JSON", "content_type", r.ct, "err", werr)
		}
	}
	h := make([]component.TransportHeader, 0, 3)
	h = addHeader(h, HeaderError, text)
	h = addHeader(h, HeaderContentType, bodyType)
	if r.id != "" {
		h = addHeader(h, HeaderID, r.id)
	}
	status := int(ae.Code)
	if r.msg.Get(HeaderID) != "" {
		status = http.StatusOK
	}
	return reply{code: ae.Code, status: status, header: h, body: body}
}

// transportHeader reports fields that belong to the transport, not to the caller's metadata.
func transportHeader(k string) bool {
	for _, t := range [...]string{HeaderContentType, HeaderTimeout, component.HeaderContentLength, "Accept-Encoding", "User-Agent", "Accept", "Connection", "Host", transport.HeaderStream, transport.HeaderStreamEnd} {
		if strings.EqualFold(k, t) {
			return true
		}
	}
	return false
}
