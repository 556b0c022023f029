// Command wasm is the proto-codec module: package protocodec compiled to WebAssembly, serving the
// codec operations "encode" and "decode" (abi/codec.md).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o proto-codec.wasm ./plugins/proto-codec/wasm
package main

import (
	"github.com/microhost/microhost/plugins/codecguest"
	protocodec "github.com/microhost/microhost/plugins/proto-codec"
)

func init() {
	codecguest.Serve(codecguest.Codec{Name: protocodec.Name, ContentTypes: protocodec.ContentTypes, Encode: protocodec.Encode, Decode: protocodec.Decode})
}

func main() {}
