// Command wasm is the json-codec module: package jsoncodec compiled to WebAssembly, serving the
// codec operations "encode" and "decode" (abi/codec.md).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o json-codec.wasm ./plugins/json-codec/wasm
package main

import (
	"github.com/microhost/microhost/plugins/codecguest"
	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
)

func init() {
	codecguest.Serve(codecguest.Codec{Name: jsoncodec.Name, ContentTypes: jsoncodec.ContentTypes, Encode: jsoncodec.Encode, Decode: jsoncodec.Decode})
}

func main() {}
