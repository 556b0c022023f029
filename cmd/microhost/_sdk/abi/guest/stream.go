package guest

import "github.com/microhost/microhost/abi"

// StreamHandler serves a streaming endpoint. req.Body is the client's first message; s
// sends the handler's messages and receives the client's next ones. Returning nil ends the
// stream cleanly; an error (an *Error to choose the code) ends it with that Go Micro error,
// after the messages already sent.
type StreamHandler func(req *Request, s *Stream) error

// HandleStream registers h for endpoint as a streaming endpoint: server-side streaming
// (send many messages for one request) or bidirectional (receive until the client closes
// its side, sending as it goes). The endpoint's registry metadata says "stream": "true", as
// Go Micro's does. Call it from init.
func HandleStream(endpoint string, h StreamHandler) {
	HandleStreamEndpoint(abi.Endpoint{Name: endpoint}, h)
}

// HandleStreamEndpoint is HandleStream for an endpoint described in full, such as one whose
// message names (e.Request, e.Response) should reach the registry. The metadata "stream":
// "true" is added to a copy of e's. Call it from init.
func HandleStreamEndpoint(e abi.Endpoint, h StreamHandler) {
	md := make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		md[k] = v
	}
	md["stream"] = "true"
	e.Metadata = md
	HandleEndpoint(e, func(req *Request) ([]byte, error) {
		return nil, h(req, requestStream())
	})
}

// streamError is the error of a stream operation that failed with a Go Micro code.
func streamError(op string, code int32) *Error {
	switch code {
	case 400:
		return &Error{Code: code, Detail: "stream: " + op + ": the request is not a stream"}
	case 408:
		return &Error{Code: code, Detail: "stream: " + op + ": the deadline passed"}
	case 499:
		return &Error{Code: code, Detail: "stream: " + op + ": the client is gone"}
	default:
		return &Error{Code: code, Detail: "stream: " + op + " failed"}
	}
}
