// Command wasm is the http-broker plugin: the protocol logic of package httpbroker served
// through the microhost ABI, with the operations encode, parse and route.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/plugins/http-broker.wasm ./plugins/http-broker/wasm
package main

import (
	"errors"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

func init() {
	guest.DescribeKind(abi.KindBroker, "http", "1.0.0")
	for _, op := range []string{httpbroker.OpEncode, httpbroker.OpParse, httpbroker.OpRoute} {
		guest.Handle(op, func(req *guest.Request) ([]byte, error) {
			out, err := httpbroker.Handle(op, req.Body, req.Header)
			var ae *abi.Error
			if errors.As(err, &ae) {
				return nil, guest.Errorf(ae.Code, "%s", ae.Detail)
			}
			return out, err
		})
	}
}

func main() {}
