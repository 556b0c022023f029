// Package guest is microhost's Go guest SDK: it turns a plain Go package into a handler
// module that speaks ABI v1.
//
// A handler is a main package built with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greeter.wasm ./handlers/greeter
//
// It registers its endpoints in init, because a c-shared module's main never runs:
//
//	func init() {
//		guest.Describe("greeter", "1.0.0")
//		guest.HandleJSON("Greeter.Hello", hello)
//	}
//
//	func main() {}
//
// Built for any other target, the package keeps the same API and adds Dispatch, so handler
// logic can be unit-tested natively.
package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/microhost/microhost/abi"
)

// Request is one call to a handler. Body is only valid until the handler returns.
type Request struct {
	// Endpoint is the endpoint called, such as "Greeter.Hello".
	Endpoint string
	// Body is the request body in the request's content type.
	Body []byte

	header    func(key string) (string, bool)
	setHeader func(key, value string)
}

// SetHeader adds metadata to the reply, which reaches the caller as a header (Go Micro's
// reply metadata). Call it before the handler returns.
func (r *Request) SetHeader(key, value string) {
	if r.setHeader != nil {
		r.setHeader(key, value)
	}
}

// Header returns a request header or metadata value (case-insensitive key), such as
// "Content-Type" or a caller's metadata key.
func (r *Request) Header(key string) (string, bool) {
	if r.header == nil {
		return "", false
	}
	return r.header(key)
}

// Handler serves one endpoint: it returns the reply body, or an error. Return an *Error (see
// Errorf) to choose the code the caller sees; any other error becomes a 500.
type Handler func(req *Request) ([]byte, error)

// Error is an error with a Go Micro code (an HTTP status code such as 400 or 404).
type Error struct {
	Code   int32
	Detail string
}

// Error returns the detail.
func (e *Error) Error() string { return e.Detail }

// Errorf returns an *Error with the given code and formatted detail.
func Errorf(code int32, format string, args ...any) error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error.
func BadRequest(format string, args ...any) error {
	return Errorf(400, format, args...)
}

// module is everything a handler module registered in init.
type module struct {
	desc abi.Descriptor
	// handlers maps each endpoint name to its handler and to the name itself, so one
	// lookup by the bytes the host sent finds both without allocating.
	handlers map[string]endpoint
}

// endpoint is one registered endpoint: its name, kept to turn the bytes of a call's
// endpoint into a string without allocating, and its handler.
type endpoint struct {
	name string
	h    Handler
}

// The registrations live in package state because the ABI's exports are package-level
// functions: there is exactly one module per Wasm instance.
var registered = module{
	desc:     abi.Descriptor{Kind: abi.KindHandler},
	handlers: map[string]endpoint{},
}

// Describe names a handler module and its version. Call it from init.
func Describe(name, version string) {
	DescribeKind(abi.KindHandler, name, version)
}

// DescribeKind names a module of another kind (abi.KindCodec, abi.KindSelector, …) and its
// version. Such a module registers its operations with Handle, one per operation name.
func DescribeKind(kind, name, version string) {
	registered.desc.Kind = kind
	registered.desc.Name = name
	registered.desc.Version = version
}

// Handle registers h for endpoint. Call it from init.
func Handle(endpoint string, h Handler) {
	HandleEndpoint(abi.Endpoint{Name: endpoint}, h)
}

// HandleEndpoint registers h for the endpoint e, whose description (request and response
// type names, metadata) reaches the registry. Call it from init.
func HandleEndpoint(e abi.Endpoint, h Handler) {
	if _, dup := registered.handlers[e.Name]; !dup {
		registered.desc.Endpoints = append(registered.desc.Endpoints, e)
	}
	registered.handlers[e.Name] = endpoint{name: e.Name, h: h}
}

// HandleJSON registers a handler that decodes a JSON request into Req and encodes the Rsp
// it fills as JSON, in the manner of Go Micro's func(ctx, *Req, *Rsp) error handlers. A body
// that does not decode is answered with a 400 error whose detail is "malformed JSON request
// for ENDPOINT", the same in every language's SDK; the decoder's own message goes to the
// host's log at debug level.
func HandleJSON[Req, Rsp any](endpoint string, fn func(req *Req, rsp *Rsp) error) {
	var req Req
	var rsp Rsp
	HandleEndpoint(abi.Endpoint{Name: endpoint, Request: typeName(req), Response: typeName(rsp)}, func(r *Request) ([]byte, error) {
		in, out := new(Req), new(Rsp)
		if err := json.Unmarshal(r.Body, in); err != nil {
			Log(abi.LogDebug, fmt.Sprintf("malformed JSON request for %s: %v", r.Endpoint, err))
			return nil, BadRequest("malformed JSON request for %s", r.Endpoint)
		}
		if err := fn(in, out); err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// Logf formats and logs at info level.
func Logf(format string, args ...any) {
	Log(abi.LogInfo, fmt.Sprintf(format, args...))
}

func typeName(v any) string {
	name := fmt.Sprintf("%T", v)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// dispatch runs the handler for req and reports its reply or its error with a code.
func dispatch(req *Request) ([]byte, *Error) {
	e, ok := registered.handlers[req.Endpoint]
	if !ok {
		return nil, &Error{Code: 404, Detail: fmt.Sprintf("unknown endpoint %s", req.Endpoint)}
	}
	return run(e.h, req)
}

// run runs h for req and reports its reply or its error with a code.
func run(h Handler, req *Request) ([]byte, *Error) {
	body, err := h(req)
	if err == nil {
		return body, nil
	}
	var ge *Error
	if errors.As(err, &ge) {
		return nil, ge
	}
	return nil, &Error{Code: 500, Detail: err.Error()}
}

func descriptorJSON() []byte {
	return registered.desc.AppendJSON(nil)
}
