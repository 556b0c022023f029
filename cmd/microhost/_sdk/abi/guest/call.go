package guest

import (
	"github.com/microhost/microhost/abi"
)

// Call calls endpoint ("Service.Method") of the service registered as service, through the
// host's client pipeline: the host looks the service up, picks a node, retries another node
// when one cannot be reached, and bounds the call by the current request's deadline. The
// current request's metadata travels with the call. body is in contentType (application/json
// when empty) and so is the reply body Call returns.
//
// A failure is an *Error carrying the Go Micro code and detail: the remote handler's own
// (a 400 the callee returned comes back as a 400), or the client's (408 at the deadline,
// 502 when no node could be reached, 503 when the service has no node). Call may only be
// used while a request is being handled.
func Call(service, endpoint, contentType string, body []byte) ([]byte, error) {
	if service == "" || endpoint == "" {
		return nil, BadRequest("call: the service and the endpoint are required")
	}
	reply, err := call(service, endpoint, contentType, body)
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// callError turns the host's Go Micro JSON error text into an *Error.
func callError(text []byte) *Error {
	e := abi.ParseError(string(text))
	return &Error{Code: e.Code, Detail: e.Detail}
}
