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
	"errors"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

func init() {
	guest.DescribeKind(abi.KindBroker, httpbroker.Name, "1.0.0")
	for _, op := range component.BrokerOps() {
		guest.Handle(op, func(req *guest.Request) ([]byte, error) {
			out, err := component.HandleBroker(context.Background(), httpbroker.Protocol{}, op, req.Body)
			var ae *abi.Error
			if errors.As(err, &ae) {
				return nil, guest.Errorf(ae.Code, "%s", ae.Detail)
			}
			return out, err
		})
	}
}

func main() {}
