// Package protocodec is the stock codec for application/protobuf: the body on the wire is the
// bare protobuf message, and the service, endpoint and id travel in Go Micro's mucp headers.
// It also serves application/octet-stream, which Go Micro passes through as raw bytes. It is
// compiled twice: into the host as the native codec, and by ./wasm into the proto-codec.wasm
// module. Both give the same bytes.
//
// The codec has no schema, so it checks only the protobuf wire format (tags, varints and
// lengths), which catches bodies that are not protobuf at all before a handler sees them.
package protocodec

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi/proto/envelope"
)

// Name is the codec's module name: its Wasm twin is proto-codec.wasm.
const Name = "proto-codec"

// Content types this codec serves.
const (
	// ContentType is bare protobuf.
	ContentType = "application/protobuf"
	// OctetStream is raw bytes, passed through unchecked.
	OctetStream = "application/octet-stream"
)

// ContentTypes lists the content types this codec serves.
var ContentTypes = []string{ContentType, OctetStream}

// Encode appends m's wire form to dst: the body itself. An error reply has an empty body; its
// error travels in the Micro-Error header, as Go Micro sends it. A protobuf body must be well
// formed.
func Encode(dst []byte, m *envelope.Message) ([]byte, error) {
	if err := checkType(m.Type); err != nil {
		return dst, err
	}
	if m.Type == envelope.Response && len(m.Error) > 0 {
		return dst, nil
	}
	if !isOctetStream(m.ContentType) {
		if err := Validate(m.Body); err != nil {
			return dst, fmt.Errorf("protobuf: the body is not protobuf: %w", err)
		}
	}
	return append(dst, m.Body...), nil
}

// Decode reads the wire body in.Body into out. A protobuf body must be well formed; an empty
// one is the empty message. out.Body points into in.Body; out.ContentType (the content type
// of in) is appended to dst, which is returned.
func Decode(dst []byte, in, out *envelope.Message) ([]byte, error) {
	if err := checkType(in.Type); err != nil {
		return dst, err
	}
	out.Reset()
	out.Type = in.Type
	ct := ContentType
	if isOctetStream(in.ContentType) {
		ct = OctetStream
	} else if err := Validate(in.Body); err != nil {
		return dst, fmt.Errorf("malformed protobuf body: %w", err)
	}
	dst, out.ContentType = envelope.AppendField(dst, ct)
	out.Body = in.Body
	return dst, nil
}

func isOctetStream(ct []byte) bool { return string(ct) == OctetStream }

// ErrMalformed is wrapped by Validate's errors.
var ErrMalformed = errors.New("malformed protobuf")

// Validate checks that b is a sequence of well-formed protobuf fields: valid tags and field
// numbers, varints that end, and lengths and groups that fit in b.
func Validate(b []byte) error {
	off := 0
	for off < len(b) {
		num, typ, tagLen := protowire.ConsumeTag(b[off:])
		if tagLen < 0 {
			return fmt.Errorf("%w: field tag at offset %d: %v", ErrMalformed, off, envelope.WireError(tagLen))
		}
		valLen := protowire.ConsumeFieldValue(num, typ, b[off+tagLen:])
		if valLen < 0 {
			return fmt.Errorf("%w: field %d at offset %d: %v", ErrMalformed, num, off, envelope.WireError(valLen))
		}
		off += tagLen + valLen
	}
	return nil
}

// ErrType is wrapped by the error for a message that is neither a request nor a response.
var ErrType = errors.New("message type must be request or response")

func checkType(t envelope.Type) error {
	if t != envelope.Request && t != envelope.Response {
		return fmt.Errorf("%w, not %v", ErrType, t)
	}
	return nil
}
