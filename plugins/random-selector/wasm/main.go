// Command wasm is the random selector compiled to random-selector.wasm. Its one operation,
// "select", takes a SelectInput record and returns a SelectOutput record holding the chosen
// index (abi/selector.md); malformed input is a 400 error, no nodes at all a 404, no node
// passing the filters a 503. It keeps the last randomselector.MaxLists node lists it was
// sent with an id, and answers 409 to an id it does not hold ("Node lists" in
// abi/selector.md).
package main

import (
	"errors"
	"strconv"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

// The selector's scratch space and the output buffer are reused between calls on an
// instance.
var (
	ws  randomselector.WireSelector
	out []byte
)

func init() {
	guest.ServeComponent(guest.Component{Kind: abi.KindSelector, Name: randomselector.Name, Ops: []guest.Op{{
		Name:     component.OpSelect,
		Metadata: map[string]string{component.SelectListsMetadata: strconv.Itoa(randomselector.MaxLists)},
		Do:       choose,
	}}})
}

// choose answers one select operation.
func choose(in []byte) ([]byte, error) {
	i, err := ws.Select(in)
	switch {
	case errors.Is(err, component.ErrMalformedSelection):
		return nil, guest.BadRequest("%v", err)
	case errors.Is(err, component.ErrNoNodes):
		return nil, guest.Errorf(404, "%v", err)
	case errors.Is(err, component.ErrUnknownList):
		return nil, guest.Errorf(409, "%v", err)
	case err != nil:
		return nil, guest.Errorf(503, "%v", err)
	}
	out = component.AppendSelectIndex(out[:0], i)
	return out, nil
}

func main() {}
