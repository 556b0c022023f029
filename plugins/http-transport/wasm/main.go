// Command wasm is the HTTP transport compiled to http-transport.wasm. It serves the
// transport kind's operations (abi/transport.md): "frame", "dechunk" and "head" for the
// server side, "request" and "response" for the client side.
package main

import (
	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	httptransport "github.com/microhost/microhost/plugins/http-transport"
)

// ops is reused between calls on an instance.
var ops httptransport.Ops

func init() {
	serve := func(op func([]byte) ([]byte, error)) func([]byte) ([]byte, error) {
		return func(in []byte) ([]byte, error) {
			out, err := op(in)
			if err != nil {
				status, reason := httptransport.Status(err)
				return nil, guest.Errorf(int32(status), "%s", reason)
			}
			return out, nil
		}
	}
	guest.ServeComponent(guest.Component{Kind: abi.KindTransport, Name: httptransport.Name, Ops: []guest.Op{
		{Name: component.TransportOpFrame, Do: serve(ops.Frame)},
		{Name: component.TransportOpDechunk, Do: serve(ops.Dechunk)},
		{Name: component.TransportOpHead, Do: serve(ops.Head)},
		{Name: component.TransportOpRequest, Do: serve(ops.Request)},
		{Name: component.TransportOpResponse, Do: serve(ops.Response)},
	}})
}

func main() {}
