// Command wasm is the random selector compiled to random-selector.wasm: its one operation,
// "select", takes the wire form of randomselector.Input and returns the chosen index as a
// protobuf varint; no candidate gives a 503 error, no nodes at all a 404.
package main

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

// The selector's scratch space and the output buffer are reused between calls on an
// instance.
var (
	ws  randomselector.WireSelector
	out []byte
)

func init() {
	guest.DescribeKind(abi.KindSelector, "random", "1.0.0")
	guest.Handle("select", func(req *guest.Request) ([]byte, error) {
		i, err := ws.Select(req.Body)
		switch {
		case errors.Is(err, randomselector.ErrMalformed):
			return nil, guest.BadRequest("%v", err)
		case errors.Is(err, randomselector.ErrNotFound):
			return nil, guest.Errorf(404, "%v", err)
		case err != nil:
			return nil, guest.Errorf(503, "%v", err)
		}
		out = protowire.AppendVarint(out[:0], uint64(i))
		return out, nil
	})
}

func main() {}
