// Command wasm is the protorpc-codec module: package protorpccodec compiled to WebAssembly, serving the codec
// operations "encode" and "decode" over microhost.abi.v1.Message envelopes (abi/ABI.md §15).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o protorpc-codec.wasm ./plugins/protorpc-codec/wasm
package main

import (
	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/abi/proto/envelope"
	protorpccodec "github.com/microhost/microhost/plugins/protorpc-codec"
)

// An instance serves one call at a time, so the envelopes and buffers are reused between
// calls: a warm instance does not allocate for a call. The host copies a reply out before the
// next call can reuse them.
var (
	in, out       envelope.Message
	wire, scratch []byte
)

func init() {
	guest.DescribeKind(abi.KindCodec, protorpccodec.Name, "1.0.0")
	guest.Handle("encode", encode)
	guest.Handle("decode", decode)
}

// encode answers with the wire bytes of the message in the request body.
func encode(req *guest.Request) ([]byte, error) {
	if err := envelope.Unmarshal(&in, req.Body); err != nil {
		return nil, guest.Errorf(400, "encode: %v", err)
	}
	var err error
	if wire, err = protorpccodec.Encode(wire[:0], &in); err != nil {
		return nil, guest.Errorf(500, "%v", err)
	}
	return wire, nil
}

// decode answers with the message the wire bytes in the request envelope's body carry.
func decode(req *guest.Request) ([]byte, error) {
	if err := envelope.Unmarshal(&in, req.Body); err != nil {
		return nil, guest.Errorf(400, "decode: %v", err)
	}
	var err error
	if scratch, err = protorpccodec.Decode(scratch[:0], &in, &out); err != nil {
		return nil, guest.Errorf(400, "%v", err)
	}
	wire = envelope.Append(wire[:0], &out)
	return wire, nil
}

func main() {}
