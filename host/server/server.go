// Package server is the server pipeline: it reads Go Micro "mucp" requests over HTTP,
// decodes them by content type, dispatches them by endpoint to a handler module and writes
// the reply, or a Go Micro error.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
)

// Headers of Go Micro's mucp protocol.
const (
	HeaderID          = "Micro-Id"
	HeaderService     = "Micro-Service"
	HeaderEndpoint    = "Micro-Endpoint"
	HeaderMethod      = "Micro-Method"
	HeaderError       = "Micro-Error"
	HeaderTimeout     = "Timeout"
	HeaderContentType = "Content-Type"
)

// Handler serves the endpoints of one module. *host.Module satisfies it.
type Handler interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
	Descriptor() abi.Descriptor
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
}

// Server routes requests to handlers by endpoint. It is an http.Handler.
type Server struct {
	opts      Options
	logger    *slog.Logger
	endpoints map[string]Handler
}

// New returns a Server for handlers. Two handlers serving the same endpoint is an error.
func New(opts Options, handlers ...Handler) (*Server, error) {
	s := &Server{opts: opts, logger: opts.Logger, endpoints: map[string]Handler{}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	for _, h := range handlers {
		d := h.Descriptor()
		for _, e := range d.Endpoints {
			if _, dup := s.endpoints[e.Name]; dup {
				return nil, fmt.Errorf("endpoint %s is served by two modules (the second is %s)", e.Name, d.Name)
			}
			s.endpoints[e.Name] = h
		}
	}
	return s, nil
}

// Endpoints lists the endpoints served, for the registry.
func (s *Server) Endpoints() []abi.Endpoint {
	seen := map[string]bool{}
	var out []abi.Endpoint
	for _, h := range s.endpoints {
		d := h.Descriptor()
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		out = append(out, d.Endpoints...)
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(HeaderID); id != "" {
		w.Header().Set(HeaderID, id)
	}
	res, ct, err := s.serve(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	for k, v := range res.Header {
		h.Set(k, v)
	}
	h.Set(HeaderContentType, ct)
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Body)
}

func (s *Server) serve(r *http.Request) (*host.Response, string, error) {
	if r.Method != http.MethodPost {
		return nil, "", abi.NewError(s.opts.Name, http.StatusMethodNotAllowed, "method %s not allowed: send a POST", r.Method)
	}
	endpoint := r.Header.Get(HeaderEndpoint)
	if endpoint == "" {
		endpoint = r.Header.Get(HeaderMethod)
	}
	if endpoint == "" {
		return nil, "", abi.NewError(s.opts.Name, http.StatusBadRequest, "missing %s header (such as Greeter.Hello)", HeaderEndpoint)
	}
	h, ok := s.endpoints[endpoint]
	if !ok {
		return nil, "", abi.NewError(s.opts.Name, http.StatusNotFound, "unknown endpoint %s", endpoint)
	}
	ct := mediaType(r.Header.Get(HeaderContentType))
	if ct == "" {
		ct = "application/json"
	}
	if ct != "application/json" {
		return nil, "", abi.NewError(s.opts.Name, http.StatusUnsupportedMediaType, "unsupported content type %q (supported: application/json; set the Content-Type header)", ct)
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, "", err
	}
	if !json.Valid(body) {
		return nil, "", abi.NewError(s.opts.Name, http.StatusBadRequest, "malformed JSON body for %s", endpoint)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout(r))
	defer cancel()
	res, err := h.Call(ctx, &host.Request{Endpoint: endpoint, ContentType: ct, Header: metadata(r.Header), Body: body})
	if err != nil {
		return nil, "", s.callError(ctx, endpoint, err)
	}
	return res, ct, nil
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	if limit <= 0 {
		limit = 4 << 20
	}
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
func (s *Server) timeout(r *http.Request) time.Duration {
	d := s.opts.Timeout
	if d <= 0 {
		d = 5 * time.Second
	}
	if v := r.Header.Get(HeaderTimeout); v != "" {
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
		s.logger.Warn("handler fault", "endpoint", endpoint, "err", err)
		return abi.NewError(s.opts.Name, http.StatusInternalServerError, "handler for %s failed: %v", endpoint, err)
	default:
		s.logger.Warn("call failed", "endpoint", endpoint, "err", err)
		return abi.NewError(s.opts.Name, http.StatusServiceUnavailable, "%s: %v", endpoint, err)
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *abi.Error
	if !errors.As(err, &ae) {
		ae = abi.NewError(s.opts.Name, http.StatusInternalServerError, "%v", err)
	}
	text := ae.Error()
	h := w.Header()
	h.Set(HeaderError, text)
	h.Set(HeaderContentType, "application/json")
	h.Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(int(ae.Code))
	_, _ = io.WriteString(w, text)
}

// mediaType returns the content type without parameters such as charset.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// metadata turns request headers into the call's metadata, leaving out transport headers, as
// Go Micro's server does.
func metadata(h http.Header) map[string]string {
	md := make(map[string]string, len(h))
	for k, v := range h {
		switch k {
		case HeaderContentType, HeaderTimeout, "Content-Length", "Accept-Encoding", "User-Agent", "Accept", "Connection":
			continue
		}
		if len(v) > 0 {
			md[k] = v[0]
		}
	}
	return md
}
