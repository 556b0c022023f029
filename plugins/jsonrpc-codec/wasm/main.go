// Command wasm is the jsonrpc-codec module: package jsonrpccodec compiled to WebAssembly, serving the codec
// operations "encode" and "decode" over microhost.abi.v1.Message envelopes (abi/ABI.md §15).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o jsonrpc-codec.wasm ./plugins/jsonrpc-codec/wasm
package main

import (
	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/abi/proto/envelope"
	jsonrpccodec "github.com/microhost/microhost/plugins/jsonrpc-codec"
)

// An instance serves one call at a time, so the envelopes and buffers are reused between
// calls: a warm instance does not allocate for a call. The host copies a reply out before the
// next call can reuse them.
var (
	in, out       envelope.Message
	wire, scratch []byte
)

func init() {
	guest.DescribeKind(abi.KindCodec, jsonrpccodec.Name, "1.0.0")
	guest.Handle("encode", encode)
	guest.Handle("decode", decode)
}

// encode answers with the wire bytes of the message in the request body.
func encode(req *guest.Request) ([]byte, error) {
	if err := envelope.Unmarshal(&in, req.Body); err != nil {
		return nil, guest.Errorf(400, "encode: %v", err)
	}
	var err error
	if wire, err = jsonrpccodec.Encode(wire[:0], &in); err != nil {
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
	if scratch, err = jsonrpccodec.Decode(scratch[:0], &in, &out); err != nil {
		return nil, guest.Errorf(400, "%v", err)
	}
	wire = envelope.Append(wire[:0], &out)
	return wire, nil
}

func main() {}
