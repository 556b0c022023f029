package host

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// ServiceCaller calls other services for modules, through the call host function: the
// client pipeline (registry lookup, node selection, retries, transport). The context carries
// the calling request's deadline.
//
// CallService returns the bare reply body, or an error: an *abi.Error for a Go Micro error
// (the remote handler's, or the client's own: 408 at the deadline, 502 when no node could be
// reached, 503 when no node is registered); any other error reaches the guest as a 500.
type ServiceCaller interface {
	CallService(ctx context.Context, req *ServiceRequest) ([]byte, error)
}

// ServiceRequest is one call a module makes to another service.
type ServiceRequest struct {
	// Service is the called service's registered name.
	Service string
	// Endpoint is "Service.Method".
	Endpoint string
	// ContentType is the body's content type; application/json when the guest gave none.
	ContentType string
	// Metadata is the calling request's metadata, forwarded as Go Micro forwards the
	// metadata of the context a handler calls with.
	Metadata map[string]string
	// Body is the bare request body.
	Body []byte
}

// ServiceCallerFunc adapts a function to a ServiceCaller.
type ServiceCallerFunc func(ctx context.Context, req *ServiceRequest) ([]byte, error)

// CallService calls f.
func (f ServiceCallerFunc) CallService(ctx context.Context, req *ServiceRequest) ([]byte, error) {
	return f(ctx, req)
}

// callErrorID is the id of the errors the call host function makes itself.
const callErrorID = "microhost.client"

// Bounds on the names a guest passes to call.
const callMaxNameLen = 1024

// notForwarded are request headers that describe the calling request itself, not its
// metadata; the client sets its own for the outgoing call.
var notForwarded = []string{
	component.HeaderContentType, component.HeaderContentLength, component.HeaderTimeout,
	component.HeaderMicroID, component.HeaderMicroService, component.HeaderMicroEndpoint,
	component.HeaderMicroMethod, component.HeaderMicroError, "Micro-Protocol", "Micro-Target",
	component.HeaderMicroStream, component.HeaderHost, component.HeaderConnection, "Accept",
	"Accept-Encoding", "User-Agent",
}

// callService is the call host function. It copies the names and the body out of the guest,
// calls through the module's ServiceCaller with the calling request's context (so its
// deadline) and metadata, holds the reply or the error text for call_result, and returns
// the reply's length, or -1 after a failure.
func callService(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportCall)
	service := string(read(mod, abi.ImportCall, api.DecodeU32(stack[0]), api.DecodeU32(stack[1])))
	endpoint := string(read(mod, abi.ImportCall, api.DecodeU32(stack[2]), api.DecodeU32(stack[3])))
	ct := string(read(mod, abi.ImportCall, api.DecodeU32(stack[4]), api.DecodeU32(stack[5])))
	body := append([]byte(nil), read(mod, abi.ImportCall, api.DecodeU32(stack[6]), api.DecodeU32(stack[7]))...)
	reply, err := s.callOut(s.ctx, &ServiceRequest{Service: service, Endpoint: endpoint, ContentType: ct, Body: body})
	s.stopIfDone()
	if err != nil {
		s.callResult = []byte(err.Error())
		stack[0] = api.EncodeI32(-1)
		return
	}
	s.callResult = reply
	stack[0] = api.EncodeI32(int32(len(reply)))
}

// callResult is the call_result host function: "copy if it fits", as request_body.
func callResult(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportCallResult)
	stack[0] = api.EncodeU32(copyOut(mod, abi.ImportCallResult, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), s.callResult))
}

// callOut checks the request, fills in its content type and metadata and calls it; every
// failure comes back as an *abi.Error.
func (s *callState) callOut(ctx context.Context, req *ServiceRequest) ([]byte, *abi.Error) {
	logger := s.logger.With("endpoint", s.req.Endpoint, "call_service", req.Service, "call_endpoint", req.Endpoint)
	switch {
	case s.services == nil:
		logger.Warn("call: this module has no client")
		return nil, abi.NewError(callErrorID, http.StatusServiceUnavailable, "call %s %s: this host gives the module no client", req.Service, req.Endpoint)
	case req.Service == "" || req.Endpoint == "":
		return nil, abi.NewError(callErrorID, http.StatusBadRequest, "call: the service and the endpoint are required (got %q, %q)", req.Service, req.Endpoint)
	case len(req.Service) > callMaxNameLen || len(req.Endpoint) > callMaxNameLen || len(req.ContentType) > callMaxNameLen:
		return nil, abi.NewError(callErrorID, http.StatusBadRequest, "call: a name is over %d bytes", callMaxNameLen)
	}
	if !s.grants.mayCall(req.Service, req.Endpoint) {
		err := callRefused(s.module, req.Service, req.Endpoint)
		logger.Warn("call refused: not granted", "err", err.Detail)
		return nil, err
	}
	if req.ContentType == "" {
		req.ContentType = "application/json"
	}
	req.Metadata = forwardedMetadata(metadataOf(s.req), s.grants)
	reply, err := s.services.CallService(ctx, req)
	if err == nil {
		return reply, nil
	}
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		out := *ae
		if out.Code < 100 || out.Code > 599 {
			out.Code = http.StatusInternalServerError
		}
		if out.Status == "" {
			out.Status = abi.StatusText(out.Code)
		}
		logger.Debug("call failed", "err", &out)
		return nil, &out
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		logger.Warn("call stopped at the request's deadline", "err", err)
		return nil, abi.NewError(callErrorID, http.StatusRequestTimeout, "call %s %s: %v", req.Service, req.Endpoint, err)
	default:
		logger.Warn("call failed", "err", err)
		return nil, abi.NewError(callErrorID, http.StatusInternalServerError, "call %s %s: %v", req.Service, req.Endpoint, err)
	}
}

// forwardedMetadata is the calling request's metadata without the headers that describe
// the request itself and without the credentials the grants do not let the module forward.
func forwardedMetadata(h iter.Seq2[string, string], g *Grants) map[string]string {
	md := map[string]string{}
next:
	for k, v := range h {
		for _, skip := range notForwarded {
			if strings.EqualFold(k, skip) {
				continue next
			}
		}
		if !g.mayForward(k) {
			continue
		}
		md[k] = v
	}
	return md
}

// callOutState serves the call and call_result host functions (callout.go).
type callOutState struct {
	services   ServiceCaller
	callResult []byte
}

func (c *callOutState) reset() { c.callResult = nil }
