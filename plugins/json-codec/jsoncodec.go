// Package jsoncodec is the stock codec for application/json: the body on the wire is the bare
// JSON value, and the service, endpoint and id travel in Go Micro's mucp headers, not in the
// body. It is compiled twice: into the host as the native codec, and by ./wasm into the
// json-codec.wasm module. Both give the same bytes.
//
// The package also holds the allocation-free JSON scanner the JSON-RPC codec builds on.
package jsoncodec

import (
	"errors"
	"fmt"

	"github.com/microhost/microhost/abi/proto/envelope"
)

// Name is the codec's module name: its Wasm twin is json-codec.wasm.
const Name = "json-codec"

// ContentType is the content type this codec serves.
const ContentType = "application/json"

// ContentTypes lists the content types this codec serves.
var ContentTypes = []string{ContentType}

// Encode appends m's wire form to dst: the body itself, which must be one JSON value. An
// error reply is its Go Micro JSON error, so that a plain HTTP client reads the error in the
// body as well as in the Micro-Error header.
func Encode(dst []byte, m *envelope.Message) ([]byte, error) {
	if err := checkType(m.Type); err != nil {
		return dst, err
	}
	if m.Type == envelope.Response && len(m.Error) > 0 {
		if err := Validate(m.Error); err != nil {
			return dst, fmt.Errorf("json: the error is not JSON: %w", err)
		}
		return append(dst, m.Error...), nil
	}
	if len(m.Body) == 0 && m.Type == envelope.Response {
		return dst, nil
	}
	if err := Validate(m.Body); err != nil {
		return dst, fmt.Errorf("json: the body is not valid JSON: %w", err)
	}
	return append(dst, m.Body...), nil
}

// Decode reads the wire body in.Body into out: a request's body must be one JSON value; a
// reply's may also be empty. out.Body points into in.Body; out.ContentType is appended to dst,
// which is returned.
func Decode(dst []byte, in, out *envelope.Message) ([]byte, error) {
	if err := checkType(in.Type); err != nil {
		return dst, err
	}
	out.Reset()
	out.Type = in.Type
	dst, out.ContentType = envelope.AppendField(dst, ContentType)
	if len(in.Body) == 0 && in.Type == envelope.Response {
		return dst, nil
	}
	if err := Validate(in.Body); err != nil {
		return dst, fmt.Errorf("malformed JSON body: %w", err)
	}
	out.Body = in.Body
	return dst, nil
}

// ErrType is wrapped by the error for a message that is neither a request nor a response.
var ErrType = errors.New("message type must be request or response")

func checkType(t envelope.Type) error {
	if t != envelope.Request && t != envelope.Response {
		return fmt.Errorf("%w, not %v", ErrType, t)
	}
	return nil
}
