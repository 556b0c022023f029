// Package codecguest turns a stock codec's logic into a Wasm codec module: it registers the
// codec operations "encode" and "decode" over microhost.abi.v1.Message envelopes
// (abi/codec.md) with the guest SDK. Each codec's wasm/main.go is one call to
// Serve.
package codecguest

import (
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/abi/proto/envelope"
)

// Codec is the logic of one codec, as each plugins/*-codec package exports it.
type Codec struct {
	// Name is the module's name, such as "json-codec".
	Name string
	// ContentTypes lists the content types it serves; the module declares them in the
	// content_types metadata of its operations (abi/codec.md, "Content types").
	ContentTypes []string
	// Encode appends the wire bytes of m to dst.
	Encode func(dst []byte, m *envelope.Message) ([]byte, error)
	// Decode decodes the wire bytes in in's body into out, using dst as scratch space.
	Decode func(dst []byte, in, out *envelope.Message) ([]byte, error)
}

// server holds the envelopes and buffers, reused between calls: an instance serves one call
// at a time and the host copies a reply out before the next call, so a warm instance does
// not allocate for a call.
type server struct {
	codec         Codec
	in, out       envelope.Message
	wire, scratch []byte
}

// Serve registers c's operations. Call it from init.
func Serve(c Codec) {
	s := &server{codec: c}
	md := map[string]string{"content_types": strings.Join(c.ContentTypes, ",")}
	guest.ServeComponent(guest.Component{Kind: abi.KindCodec, Name: c.Name, Ops: []guest.Op{
		{Name: "encode", Metadata: md, Do: s.encode},
		{Name: "decode", Metadata: md, Do: s.decode},
	}})
}

// encode answers with the wire bytes of the message in the request body.
func (s *server) encode(body []byte) ([]byte, error) {
	if err := envelope.Unmarshal(&s.in, body); err != nil {
		return nil, guest.Errorf(400, "encode: %v", err)
	}
	var err error
	if s.wire, err = s.codec.Encode(s.wire[:0], &s.in); err != nil {
		return nil, guest.Errorf(500, "%v", err)
	}
	return s.wire, nil
}

// decode answers with the message the wire bytes in the request envelope's body carry.
func (s *server) decode(body []byte) ([]byte, error) {
	if err := envelope.Unmarshal(&s.in, body); err != nil {
		return nil, guest.Errorf(400, "decode: %v", err)
	}
	var err error
	if s.scratch, err = s.codec.Decode(s.scratch[:0], &s.in, &s.out); err != nil {
		return nil, guest.Errorf(400, "%v", err)
	}
	s.wire = envelope.Append(s.wire[:0], &s.out)
	return s.wire, nil
}
