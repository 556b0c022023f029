// Package envelope reads and writes microhost.abi.v1.Message, the record the host and a codec
// module exchange (abi/proto/microhost.proto), by hand with protowire.
//
// It is the hot path of every codec call, on both sides of the Wasm boundary, so it does not
// use protobuf reflection (which would make each codec module several megabytes larger and each
// call slower) and it does not allocate: Unmarshal makes the Message's fields point into the
// bytes it reads, and Append writes into a buffer the caller owns. The generated package
// abipb is the schema's reference form; a test proves the two agree.
package envelope

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Type says which way a message travels (microhost.abi.v1.MessageType).
type Type int32

// Message types.
const (
	// Unspecified is the zero value; codecs refuse it.
	Unspecified Type = 0
	// Request is a call from a client to a server.
	Request Type = 1
	// Response is a server's reply; an error reply has Error set.
	Response Type = 2
)

// String names the type.
func (t Type) String() string {
	switch t {
	case Request:
		return "request"
	case Response:
		return "response"
	}
	return fmt.Sprintf("message type %d", int32(t))
}

// Header is one metadata entry.
type Header struct {
	Key, Value []byte
}

// Message is microhost.abi.v1.Message. The byte fields of a Message filled by Unmarshal, or by
// a codec's Decode, point into the bytes they were read from: they stay valid as long as those
// bytes are neither changed nor reused.
type Message struct {
	// Type is the direction: Request or Response.
	Type Type
	// ID is the request id, in text.
	ID []byte
	// Service is the service called.
	Service []byte
	// Endpoint is "Service.Method".
	Endpoint []byte
	// Error is a Go Micro JSON error; empty when the call succeeded.
	Error []byte
	// ContentType is Body's content type.
	ContentType []byte
	// Body is the body.
	Body []byte
	// Header is further metadata, in the order it was read.
	Header []Header
}

// Reset clears m, keeping the Header slice's capacity.
func (m *Message) Reset() {
	*m = Message{Header: m.Header[:0]}
}

// Field numbers of microhost.abi.v1.Message.
const (
	fieldType        protowire.Number = 1
	fieldID          protowire.Number = 2
	fieldService     protowire.Number = 3
	fieldEndpoint    protowire.Number = 4
	fieldError       protowire.Number = 5
	fieldContentType protowire.Number = 6
	fieldBody        protowire.Number = 7
	fieldHeader      protowire.Number = 8

	fieldKey   protowire.Number = 1
	fieldValue protowire.Number = 2
)

// Size returns the length of m's encoding.
func Size(m *Message) int {
	n := 0
	if m.Type != 0 {
		n += protowire.SizeTag(fieldType) + protowire.SizeVarint(uint64(int64(m.Type)))
	}
	for _, b := range [...][]byte{m.ID, m.Service, m.Endpoint, m.Error, m.ContentType, m.Body} {
		if len(b) > 0 {
			n += 1 + protowire.SizeVarint(uint64(len(b))) + len(b)
		}
	}
	for _, h := range m.Header {
		e := entrySize(h)
		n += protowire.SizeTag(fieldHeader) + protowire.SizeBytes(e)
	}
	return n
}

func entrySize(h Header) int {
	return protowire.SizeTag(fieldKey) + protowire.SizeBytes(len(h.Key)) +
		protowire.SizeTag(fieldValue) + protowire.SizeBytes(len(h.Value))
}

// Append appends m's encoding to dst. Fields at their zero value are left out, as proto3 does;
// header entries are written in order, each with both key and value.
//
// Every field number of Message is below 16, so each tag is one byte, and the byte fields are
// written in one loop without a call per field: a function call is cheap natively but costs
// tens of nanoseconds in a Go guest, and Append runs in every codec module call.
func Append(dst []byte, m *Message) []byte {
	if need := Size(m); cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	if m.Type != 0 {
		dst = append(dst, byte(fieldType)<<3|byte(protowire.VarintType))
		dst = protowire.AppendVarint(dst, uint64(int64(m.Type)))
	}
	fields := [...][]byte{m.ID, m.Service, m.Endpoint, m.Error, m.ContentType, m.Body}
	for i, b := range fields {
		if len(b) == 0 {
			continue
		}
		dst = append(dst, byte(fieldID+protowire.Number(i))<<3|byte(protowire.BytesType))
		if len(b) < 0x80 {
			dst = append(dst, byte(len(b)))
		} else {
			dst = protowire.AppendVarint(dst, uint64(len(b)))
		}
		dst = append(dst, b...)
	}
	for _, h := range m.Header {
		dst = protowire.AppendTag(dst, fieldHeader, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(entrySize(h)))
		dst = protowire.AppendTag(dst, fieldKey, protowire.BytesType)
		dst = protowire.AppendBytes(dst, h.Key)
		dst = protowire.AppendTag(dst, fieldValue, protowire.BytesType)
		dst = protowire.AppendBytes(dst, h.Value)
	}
	return dst
}

// ErrMalformed is wrapped by Unmarshal's errors.
var ErrMalformed = errors.New("malformed message envelope")

// Unmarshal reads a Message from b into m, replacing what m held. m's fields point into b.
// Unknown fields (and known ones of an unexpected wire type) are skipped, as protobuf
// requires; a repeated scalar field keeps its last value.
func Unmarshal(m *Message, b []byte) error {
	m.Reset()
	for len(b) > 0 {
		// One-byte tags, lengths and type values, which are all a codec call sees in
		// practice, are read inline; protowire reads the rest and reports the errors.
		var num protowire.Number
		var typ protowire.Type
		if t := b[0]; t < 0x80 && t >= 1<<3 {
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
			b = b[1:]
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(b)
			if n < 0 {
				return fmt.Errorf("%w: %v", ErrMalformed, WireError(n))
			}
			b = b[n:]
		}
		switch {
		case num == fieldType && typ == protowire.VarintType:
			if len(b) > 0 && b[0] < 0x80 {
				m.Type = Type(b[0])
				b = b[1:]
				continue
			}
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: type: %v", ErrMalformed, WireError(n))
			}
			m.Type = Type(int32(v))
			b = b[n:]
		case num >= fieldID && num <= fieldHeader && typ == protowire.BytesType:
			var v []byte
			if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
				l := 1 + int(b[0])
				v, b = b[1:l], b[l:]
			} else {
				var n int
				v, n = protowire.ConsumeBytes(b)
				if n < 0 {
					return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, WireError(n))
				}
				b = b[n:]
			}
			// Capped, so that appending to a decoded field copies it rather than writing
			// over the bytes after it.
			v = v[:len(v):len(v)]
			switch num {
			case fieldID:
				m.ID = v
			case fieldService:
				m.Service = v
			case fieldEndpoint:
				m.Endpoint = v
			case fieldError:
				m.Error = v
			case fieldContentType:
				m.ContentType = v
			case fieldBody:
				m.Body = v
			case fieldHeader:
				h, err := unmarshalEntry(v)
				if err != nil {
					return err
				}
				m.Header = append(m.Header, h)
			}
		default:
			// An unknown field, or a known one with another wire type, which protobuf
			// also treats as unknown.
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, WireError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func unmarshalEntry(b []byte) (Header, error) {
	var h Header
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return h, fmt.Errorf("%w: header entry: %v", ErrMalformed, WireError(n))
		}
		b = b[n:]
		if (num == fieldKey || num == fieldValue) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return h, fmt.Errorf("%w: header entry: %v", ErrMalformed, WireError(n))
			}
			b = b[n:]
			v = v[:len(v):len(v)] // capped, as Unmarshal's fields are
			if num == fieldKey {
				h.Key = v
			} else {
				h.Value = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return h, fmt.Errorf("%w: header entry: %v", ErrMalformed, WireError(n))
		}
		b = b[n:]
	}
	return h, nil
}

// AppendField appends s to dst and returns the grown dst and the appended part. A codec's
// Decode uses it to point a field at text of its own (a content type, a decimal id) without
// allocating beyond the caller's buffer.
func AppendField(dst []byte, s string) (grown, field []byte) {
	start := len(dst)
	dst = append(dst, s...)
	return dst, dst[start:len(dst):len(dst)]
}

// WireError describes the negative length n that a protowire Consume function returned.
//
// protowire.ParseError's text varies from one binary to the next on purpose (the protobuf
// module puts an ordinary or a non-breaking space after "proto:" by a hash of the binary), so a
// native twin and its Wasm build would describe the same bad input differently. Callers on
// both sides of the Wasm boundary use this instead, which reads the same everywhere.
func WireError(n int) error {
	switch n {
	case -1:
		return errors.New("protobuf: unexpected end of input")
	case -2:
		return errors.New("protobuf: invalid field number")
	case -3:
		return errors.New("protobuf: variable-length integer overflow")
	case -4:
		return errors.New("protobuf: cannot parse reserved wire type")
	case -5:
		return errors.New("protobuf: mismatched end-group marker")
	}
	return fmt.Errorf("protobuf: parse error %d", n)
}
