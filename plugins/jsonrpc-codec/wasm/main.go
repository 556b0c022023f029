// Command wasm is the jsonrpc-codec module: package jsonrpccodec compiled to WebAssembly, serving the
// codec operations "encode" and "decode" (abi/codec.md).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o jsonrpc-codec.wasm ./plugins/jsonrpc-codec/wasm
package main

import (
	"github.com/microhost/microhost/plugins/codecguest"
	jsonrpccodec "github.com/microhost/microhost/plugins/jsonrpc-codec"
)

func init() {
	codecguest.Serve(codecguest.Codec{Name: jsonrpccodec.Name, ContentTypes: jsonrpccodec.ContentTypes, Encode: jsonrpccodec.Encode, Decode: jsonrpccodec.Decode})
}

func main() {}
