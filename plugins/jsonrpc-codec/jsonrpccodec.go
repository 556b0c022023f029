// Package jsonrpccodec is the stock codec for application/json-rpc, Go Micro's JSON-RPC 1.0
// envelope. A request is
//
//	{"method":"Greeter.Hello","params":[<request>],"id":"<id>"}
//
// and a reply is
//
//	{"id":"<id>","result":<reply>,"error":null}
//
// with "result" null and "error" the Go Micro JSON error, as a string, when the call failed.
// Each is followed by a newline, as Go Micro's encoder writes it. The bare body inside is
// JSON (application/json). The package is compiled twice: into the host as the native codec,
// and by ./wasm into the jsonrpc-codec.wasm module. Both give the same bytes.
package jsonrpccodec

import (
	"errors"
	"fmt"

	"github.com/microhost/microhost/abi/proto/envelope"
	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
)

// Name is the codec's module name: its Wasm twin is jsonrpc-codec.wasm.
const Name = "jsonrpc-codec"

// ContentType is the content type this codec serves.
const ContentType = "application/json-rpc"

// BodyContentType is the content type of the body inside the envelope.
const BodyContentType = "application/json"

// ContentTypes lists the content types this codec serves.
var ContentTypes = []string{ContentType}

// ErrType is wrapped by the error for a message that is neither a request nor a response.
var ErrType = errors.New("message type must be request or response")

// Encode appends m's envelope to dst. The body must be one JSON value, or empty for null. The
// id is written as a JSON string, as Go Micro writes it, or null when empty.
func Encode(dst []byte, m *envelope.Message) ([]byte, error) {
	switch m.Type {
	case envelope.Request:
		if err := checkBody(m.Body); err != nil {
			return dst, err
		}
		dst = append(dst, `{"method":`...)
		dst = jsoncodec.AppendQuoted(dst, m.Endpoint)
		dst = append(dst, `,"params":[`...)
		dst = appendBody(dst, m.Body)
		dst = append(dst, `],"id":`...)
		dst = appendID(dst, m.ID)
		return append(dst, "}\n"...), nil
	case envelope.Response:
		failed := len(m.Error) > 0
		if !failed {
			if err := checkBody(m.Body); err != nil {
				return dst, err
			}
		}
		dst = append(dst, `{"id":`...)
		dst = appendID(dst, m.ID)
		dst = append(dst, `,"result":`...)
		if failed {
			dst = append(dst, `null,"error":`...)
			dst = jsoncodec.AppendQuoted(dst, m.Error)
		} else {
			dst = appendBody(dst, m.Body)
			dst = append(dst, `,"error":null`...)
		}
		return append(dst, "}\n"...), nil
	}
	return dst, fmt.Errorf("json-rpc: %w, not %v", ErrType, m.Type)
}

func checkBody(body []byte) error {
	if len(body) == 0 {
		return nil
	}
	if err := jsoncodec.Validate(body); err != nil {
		return fmt.Errorf("json-rpc: the body is not valid JSON: %w", err)
	}
	return nil
}

func appendBody(dst, body []byte) []byte {
	if len(body) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, body...)
}

func appendID(dst, id []byte) []byte {
	if len(id) == 0 {
		return append(dst, "null"...)
	}
	return jsoncodec.AppendQuoted(dst, id)
}

// Decode reads the envelope in in.Body into out. Members it does not know are ignored, and
// member names match case-insensitively, as Go Micro's decoder does.
//
// For a request, out gets the method as its endpoint, the id (a string's content, or the
// literal text of any other JSON value, so a numeric id up to 2^64-1 keeps every digit; null
// gives none) and the first element of params as its body (null when params is null, missing
// or empty). For a reply, out gets the id, the result as its body (empty when null) and the
// error: a string's content, or the literal text of any other JSON value.
//
// out's fields point into in.Body, or into dst when a string had escapes to decode; dst is
// returned.
func Decode(dst []byte, in, out *envelope.Message) ([]byte, error) {
	if in.Type != envelope.Request && in.Type != envelope.Response {
		return dst, fmt.Errorf("json-rpc: %w, not %v", ErrType, in.Type)
	}
	out.Reset()
	out.Type = in.Type
	b := in.Body
	r, err := jsoncodec.NewObjectReader(b, 0)
	if err != nil {
		return dst, fmt.Errorf("malformed JSON-RPC %v: %w", in.Type, err)
	}
	var method, params, id, result, errVal []byte
	for {
		key, val, ok, err := r.Next()
		if err != nil {
			return dst, fmt.Errorf("malformed JSON-RPC %v: %w", in.Type, err)
		}
		if !ok {
			break
		}
		switch {
		case jsoncodec.KeyIs(key, "id"):
			id = val
		case in.Type == envelope.Request && jsoncodec.KeyIs(key, "method"):
			method = val
		case in.Type == envelope.Request && jsoncodec.KeyIs(key, "params"):
			params = val
		case in.Type == envelope.Response && jsoncodec.KeyIs(key, "result"):
			result = val
		case in.Type == envelope.Response && jsoncodec.KeyIs(key, "error"):
			errVal = val
		}
	}
	if i := jsoncodec.SkipSpace(b, r.Offset()); i != len(b) {
		return dst, fmt.Errorf("malformed JSON-RPC %v: %w", in.Type, &jsoncodec.SyntaxError{Offset: i, Msg: fmt.Sprintf("invalid character %q after the envelope", b[i])})
	}
	if dst, out.ID, err = text(dst, id); err != nil {
		return dst, err
	}
	dst, out.ContentType = envelope.AppendField(dst, BodyContentType)
	if in.Type == envelope.Request {
		if !isString(method) {
			return dst, errors.New("malformed JSON-RPC request: method must be a string")
		}
		if dst, out.Endpoint, err = text(dst, method); err != nil {
			return dst, err
		}
		switch {
		case isNull(params):
		case len(params) > 0 && params[0] == '[':
			out.Body, _ = jsoncodec.FirstElement(params)
		default:
			return dst, errors.New("malformed JSON-RPC request: params must be an array")
		}
		if len(out.Body) == 0 {
			dst, out.Body = envelope.AppendField(dst, "null")
		}
		return dst, nil
	}
	if !isNull(result) {
		out.Body = result
	}
	if !isNull(errVal) {
		if dst, out.Error, err = text(dst, errVal); err != nil {
			return dst, err
		}
		if len(out.Error) == 0 {
			// Go Micro's client reads an empty error string as a failure too.
			dst, out.Error = envelope.AppendField(dst, "unspecified error")
		}
	}
	return dst, nil
}

func isNull(v []byte) bool   { return len(v) == 0 || string(v) == "null" }
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// text returns a checked JSON value as text: a string's decoded content (pointing into v when
// it has no escapes, else appended to dst), null as nothing, and any other value as its
// literal text.
func text(dst, v []byte) (grown, field []byte, err error) {
	switch {
	case isNull(v):
		return dst, nil, nil
	case !isString(v):
		return dst, v, nil
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			start := len(dst)
			dst, err = jsoncodec.AppendUnquoted(dst, v)
			if err != nil {
				return dst, nil, fmt.Errorf("malformed JSON-RPC string: %w", err)
			}
			return dst, dst[start:len(dst):len(dst)], nil
		}
	}
	return dst, inner, nil
}
