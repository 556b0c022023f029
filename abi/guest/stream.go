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
	HandleEndpoint(abi.Endpoint{Name: endpoint, Metadata: map[string]string{"stream": "true"}}, func(req *Request) ([]byte, error) {
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
