package component

import (
	"context"
	"strconv"
	"strings"
)

// The mucp header fields: what Go Micro's HTTP transport carries besides the caller's
// metadata. Every package of the host names them through these constants.
const (
	HeaderContentType   = "Content-Type"
	HeaderContentLength = "Content-Length"
	HeaderConnection    = "Connection"
	HeaderHost          = "Host"
	HeaderMicroID       = "Micro-Id"
	HeaderMicroService  = "Micro-Service"
	HeaderMicroEndpoint = "Micro-Endpoint"
	HeaderMicroMethod   = "Micro-Method"
	HeaderMicroError    = "Micro-Error"
	HeaderMicroStream   = "Micro-Stream"
	// HeaderMicroStreamEnd marks the last message of a stream.
	HeaderMicroStreamEnd = "Micro-Stream-End"
	// HeaderTimeout carries the caller's deadline, in nanoseconds from now.
	HeaderTimeout = "Timeout"
)

// TransportHeader is one header field. When it comes out of a framer, Name and Value are
// views into the framed bytes.
type TransportHeader struct {
	Name, Value []byte
}

// TransportLimits bound what a framer accepts.
type TransportLimits struct {
	// MaxHeaderBytes bounds the request line and headers together. Zero means 64 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes bounds the body. Zero means 4 MiB.
	MaxBodyBytes int
}

// The limits' defaults.
const (
	DefaultTransportMaxHeaderBytes = 64 << 10
	DefaultTransportMaxBodyBytes   = 4 << 20
)

// HeaderBytes returns MaxHeaderBytes, or its default when it is not positive.
func (l TransportLimits) HeaderBytes() int {
	if l.MaxHeaderBytes <= 0 {
		return DefaultTransportMaxHeaderBytes
	}
	return l.MaxHeaderBytes
}

// BodyBytes returns MaxBodyBytes, or its default when it is not positive.
func (l TransportLimits) BodyBytes() int {
	if l.MaxBodyBytes <= 0 {
		return DefaultTransportMaxBodyBytes
	}
	return l.MaxBodyBytes
}

// TransportFrame is one framed request. Its slices are views into the bytes framed (or into
// the frame record the Wasm twin returned); its body is buf[n-ContentLength:n] of the buffer
// that was framed, n being what Frame returned.
type TransportFrame struct {
	Method        []byte
	Target        []byte
	Headers       []TransportHeader
	Body          []byte
	ContentLength int
	KeepAlive     bool
	// Chunked is set when the body follows the head in chunked transfer coding.
	Chunked bool
}

// Get returns the value of the first header named name, compared case-insensitively.
func (f *TransportFrame) Get(name string) ([]byte, bool) {
	return GetTransportHeader(f.Headers, name)
}

// GetTransportHeader returns the value of the first header in hs named name, compared
// case-insensitively.
func GetTransportHeader(hs []TransportHeader, name string) ([]byte, bool) {
	for _, h := range hs {
		if len(h.Name) == len(name) && strings.EqualFold(string(h.Name), name) {
			return h.Value, true
		}
	}
	return nil, false
}

// TransportResponse is one framed reply, as a client reads it. Its slices are views into the
// bytes framed (or into the record the Wasm twin returned); its body is
// buf[n-ContentLength:n] of the buffer that was framed, n being what Response returned.
type TransportResponse struct {
	Status        int
	Headers       []TransportHeader
	Body          []byte
	ContentLength int
	KeepAlive     bool
	// Chunked is set when the body follows the head in chunked transfer coding.
	Chunked bool
}

// Get returns the value of the first header named name, compared case-insensitively.
func (r *TransportResponse) Get(name string) ([]byte, bool) {
	return GetTransportHeader(r.Headers, name)
}

// TransportError is a framing error with the HTTP status a server answers it with.
type TransportError struct {
	Status int
	Reason string
}

// Error returns the status and the reason, such as "413 body too large".
func (e *TransportError) Error() string { return strconv.Itoa(e.Status) + " " + e.Reason }

// The framing errors of the transport contract (abi/transport.md, "Errors").
var (
	ErrTransportMalformed      = &TransportError{Status: 400, Reason: "malformed request"}
	ErrTransportMethod         = &TransportError{Status: 405, Reason: "method not allowed: send a POST"}
	ErrTransportTimeout        = &TransportError{Status: 408, Reason: "request not received in time"}
	ErrTransportLengthRequired = &TransportError{Status: 411, Reason: "a Content-Length or chunked transfer coding is required"}
	ErrBodyTooLarge            = &TransportError{Status: 413, Reason: "body too large"}
	ErrTransportHeaderTooLarge = &TransportError{Status: 431, Reason: "request header too large"}
	ErrTransportNotImplemented = &TransportError{Status: 501, Reason: "transfer coding not supported (only chunked)"}
	ErrTransportVersion        = &TransportError{Status: 505, Reason: "HTTP version not supported"}
)

// ValidHeaderName reports whether name can be a header field name: a non-empty RFC 9110
// token. Headers that fail it are never written.
func ValidHeaderName(name string) bool { return len(name) > 0 && IsToken(name) }

// ValidHeaderValue reports whether value can be a header field value: no control characters
// other than tab. Headers that fail it are never written.
func ValidHeaderValue(value string) bool { return ValidValue(value) }

// ValidValue is ValidHeaderValue for bytes or a string.
func ValidValue[T []byte | string](v T) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// IsToken reports whether b is made of RFC 9110 token characters (true for the empty
// string).
func IsToken[T []byte | string](b T) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// The transport kind's operations (abi/transport.md).
const (
	// TransportOpFrame frames the first request of a connection's buffered bytes.
	TransportOpFrame = "frame"
	// TransportOpDechunk decodes a chunked body that follows a framed head.
	TransportOpDechunk = "dechunk"
	// TransportOpHead writes the head of a reply.
	TransportOpHead = "head"
	// TransportOpRequest writes the head of a request (the client side).
	TransportOpRequest = "request"
	// TransportOpResponse frames the first reply of a connection's buffered bytes (the
	// client side).
	TransportOpResponse = "response"
)

// TransportOps lists the operations a transport module must serve.
var TransportOps = []string{TransportOpFrame, TransportOpDechunk, TransportOpHead, TransportOpRequest, TransportOpResponse}

// Framer is the transport kind: a wire protocol, both sides. The host owns the sockets, the
// buffers, the timeouts and the limits' enforcement on what it reads; the framer only turns
// buffered bytes into requests and replies, and requests and replies into bytes. A Framer
// is used by one connection at a time.
type Framer interface {
	ClientFramer
	// Frame frames the first request in buf into f and returns the bytes it takes; 0 with a
	// nil error asks for more bytes. A protocol error is a *TransportError. A chunked body
	// is decoded in place: buf is rewritten between the head and the returned length.
	Frame(ctx context.Context, buf []byte, lim TransportLimits, f *TransportFrame) (int, error)
	// Head appends to dst the head of a reply with a body of bodyLen bytes, which the host
	// writes after it.
	Head(ctx context.Context, dst []byte, status int, headers []TransportHeader, bodyLen int, keepAlive bool) ([]byte, error)
}

// ClientFramer is the client side of a wire protocol: it writes request heads and frames
// replies out of buffered bytes.
type ClientFramer interface {
	// Request appends to dst the head of a request to host (the node's address) with a
	// body of bodyLen bytes, which the host writes after it.
	Request(ctx context.Context, dst []byte, host string, headers []TransportHeader, bodyLen int) ([]byte, error)
	// Response frames the first reply in buf into r and returns the bytes it takes; 0 with
	// a nil error asks for more bytes. A protocol error is a *TransportError. A chunked
	// body is decoded in place.
	Response(ctx context.Context, buf []byte, lim TransportLimits, r *TransportResponse) (int, error)
}

// TransportTwin is what a transport plugin's native twin puts in Twin.Native.
type TransportTwin struct {
	// NewFramer returns a framer for one connection.
	NewFramer func() Framer
}
