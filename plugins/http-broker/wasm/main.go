// Command wasm is the http-broker plugin: the protocol logic of package httpbroker served
// through the microhost ABI as a module of the broker kind (abi/broker.md), with the
// operations encode, parse and route.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/plugins/http-broker.wasm ./plugins/http-broker/wasm
package main

import (
	"context"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

func init() {
	c := guest.Component{Kind: abi.KindBroker, Name: httpbroker.Name}
	// out holds the last answer of encode or route, and is written over by the next: the
	// SDK hands an answer to the host, which copies it, before the call returns.
	var out []byte
	for _, op := range component.BrokerOps() {
		c.Ops = append(c.Ops, guest.Op{Name: op, Do: func(in []byte) ([]byte, error) {
			// Encode and route read the wire form, without building maps (EncodeWire,
			// RouteWire); a record they leave alone gets the decoder's answer and error.
			var ok bool
			var err error
			switch op {
			case component.BrokerOpEncode:
				if out, ok, err = httpbroker.EncodeWire(out[:0], in); ok {
					return out, err
				}
			case component.BrokerOpRoute:
				if out, ok, err = httpbroker.RouteWire(out[:0], in); ok {
					return out, err
				}
			}
			return component.HandleBroker(context.Background(), httpbroker.Protocol{}, op, in)
		}})
	}
	guest.ServeComponent(c)
}

func main() {}
