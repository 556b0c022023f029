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
	guest.DescribeKind(abi.KindTransport, httptransport.Name, "1.0.0")
	serve := func(op func([]byte) ([]byte, error)) guest.Handler {
		return func(r *guest.Request) ([]byte, error) {
			out, err := op(r.Body)
			if err != nil {
				status, reason := httptransport.Status(err)
				return nil, guest.Errorf(int32(status), "%s", reason)
			}
			return out, nil
		}
	}
	guest.Handle(component.TransportOpFrame, serve(ops.Frame))
	guest.Handle(component.TransportOpDechunk, serve(ops.Dechunk))
	guest.Handle(component.TransportOpHead, serve(ops.Head))
	guest.Handle(component.TransportOpRequest, serve(ops.Request))
	guest.Handle(component.TransportOpResponse, serve(ops.Response))
}

func main() {}
