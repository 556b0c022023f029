// Command wasm is the protorpc-codec module: package protorpccodec compiled to WebAssembly, serving the
// codec operations "encode" and "decode" (abi/codec.md).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o protorpc-codec.wasm ./plugins/protorpc-codec/wasm
package main

import (
	"github.com/microhost/microhost/plugins/codecguest"
	protorpccodec "github.com/microhost/microhost/plugins/protorpc-codec"
)

func init() {
	codecguest.Serve(codecguest.Codec{Name: protorpccodec.Name, ContentTypes: protorpccodec.ContentTypes, Encode: protorpccodec.Encode, Decode: protorpccodec.Decode})
}

func main() {}
