// Package protorpccodec is the stock codec for application/proto-rpc, Go Micro's proto-RPC
// framing. A message is two frames, each a 4-byte big-endian length and that many bytes:
// first a header, then the bare protobuf body (an empty body is a zero length). The header is
// the protobuf message
//
//	Request  { string service_method = 1; fixed64 seq = 2; }
//	Response { string service_method = 1; fixed64 seq = 2; string error = 3; }
//
// where service_method is the endpoint ("Greeter.Hello"), seq the request id as a number and
// error the Go Micro JSON error of a failed call. The package is compiled twice: into the host
// as the native codec, and by ./wasm into the protorpc-codec.wasm module. Both give the same
// bytes.
package protorpccodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi/proto/envelope"
	protocodec "github.com/microhost/microhost/plugins/proto-codec"
)

// Name is the codec's module name: its Wasm twin is protorpc-codec.wasm.
const Name = "protorpc-codec"

// ContentType is the content type this codec serves.
const ContentType = "application/proto-rpc"

// BodyContentType is the content type of the body inside the envelope.
const BodyContentType = "application/protobuf"

// ContentTypes lists the content types this codec serves.
var ContentTypes = []string{ContentType}

// ErrType is wrapped by the error for a message that is neither a request nor a response.
var ErrType = errors.New("message type must be request or response")

// ErrMalformed is wrapped by Decode's errors for bytes that are not proto-RPC.
var ErrMalformed = errors.New("malformed proto-RPC")

// Header field numbers.
const (
	fieldMethod protowire.Number = 1
	fieldSeq    protowire.Number = 2
	fieldError  protowire.Number = 3
)

// Encode appends m's two frames to dst. The id becomes seq when it is a decimal number that
// fits in 64 bits, else seq is 0 (Go Micro does the same). An error reply carries an empty
// body; any other body must be well-formed protobuf.
func Encode(dst []byte, m *envelope.Message) ([]byte, error) {
	if m.Type != envelope.Request && m.Type != envelope.Response {
		return dst, fmt.Errorf("proto-rpc: %w, not %v", ErrType, m.Type)
	}
	failed := m.Type == envelope.Response && len(m.Error) > 0
	if !failed {
		if err := protocodec.Validate(m.Body); err != nil {
			return dst, fmt.Errorf("proto-rpc: the body is not protobuf: %w", err)
		}
	}
	seq := parseSeq(m.ID)
	hdrLen := 0
	if len(m.Endpoint) > 0 {
		hdrLen += protowire.SizeTag(fieldMethod) + protowire.SizeBytes(len(m.Endpoint))
	}
	if seq != 0 {
		hdrLen += protowire.SizeTag(fieldSeq) + protowire.SizeFixed64()
	}
	if failed {
		hdrLen += protowire.SizeTag(fieldError) + protowire.SizeBytes(len(m.Error))
	}
	body := m.Body
	if failed {
		body = nil
	}
	if uint64(hdrLen) > math.MaxUint32 || uint64(len(body)) > math.MaxUint32 {
		return dst, errors.New("proto-rpc: a frame is over 4 GiB")
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(hdrLen))
	if len(m.Endpoint) > 0 {
		dst = protowire.AppendTag(dst, fieldMethod, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Endpoint)
	}
	if seq != 0 {
		dst = protowire.AppendTag(dst, fieldSeq, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, seq)
	}
	if failed {
		dst = protowire.AppendTag(dst, fieldError, protowire.BytesType)
		dst = protowire.AppendBytes(dst, m.Error)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...), nil
}

// parseSeq reads a decimal uint64, or gives 0.
func parseSeq(id []byte) uint64 {
	if len(id) == 0 || len(id) > 20 {
		return 0
	}
	var v uint64
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0
		}
		v = v*10 + d
	}
	return v
}

// Decode reads the two frames in in.Body into out: the endpoint from service_method, the id
// as seq in decimal, the error (replies) and the body, which must be well-formed protobuf.
// Nothing may follow the body frame. out's fields point into in.Body, or into dst (the id and
// content type), which is returned.
func Decode(dst []byte, in, out *envelope.Message) ([]byte, error) {
	if in.Type != envelope.Request && in.Type != envelope.Response {
		return dst, fmt.Errorf("proto-rpc: %w, not %v", ErrType, in.Type)
	}
	out.Reset()
	out.Type = in.Type
	b := in.Body
	hdr, rest, err := frame(b, "header")
	if err != nil {
		return dst, err
	}
	body, rest, err := frame(rest, "body")
	if err != nil {
		return dst, err
	}
	if len(rest) > 0 {
		return dst, fmt.Errorf("%w: %d bytes after the body frame", ErrMalformed, len(rest))
	}
	var seq uint64
	for off := 0; off < len(hdr); {
		num, typ, n := protowire.ConsumeTag(hdr[off:])
		if n < 0 {
			return dst, fmt.Errorf("%w: header at offset %d: %v", ErrMalformed, off, envelope.WireError(n))
		}
		off += n
		switch {
		case num == fieldMethod && typ == protowire.BytesType:
			out.Endpoint, n = protowire.ConsumeBytes(hdr[off:])
		case num == fieldSeq && typ == protowire.Fixed64Type:
			seq, n = protowire.ConsumeFixed64(hdr[off:])
		case num == fieldError && typ == protowire.BytesType && in.Type == envelope.Response:
			out.Error, n = protowire.ConsumeBytes(hdr[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, hdr[off:])
		}
		if n < 0 {
			return dst, fmt.Errorf("%w: header field %d: %v", ErrMalformed, num, envelope.WireError(n))
		}
		off += n
	}
	if err := protocodec.Validate(body); err != nil {
		return dst, fmt.Errorf("%w: body: %w", ErrMalformed, err)
	}
	start := len(dst)
	dst = strconv.AppendUint(dst, seq, 10)
	out.ID = dst[start:len(dst):len(dst)]
	dst, out.ContentType = envelope.AppendField(dst, BodyContentType)
	out.Body = body
	return dst, nil
}

// frame splits one length-prefixed frame off b.
func frame(b []byte, what string) (payload, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: %s frame: need a 4-byte length, have %d bytes", ErrMalformed, what, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: %s frame says %d bytes, %d follow", ErrMalformed, what, n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}
