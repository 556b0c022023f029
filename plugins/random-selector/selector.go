// Package randomselector is the stock selector plugin: given a service's nodes, the
// caller's filters and the nodes recently marked as failing, it picks one node at random or
// in round-robin order.
//
// It implements component.Selector. It is a pure function, so any pooled Wasm instance can
// serve any call: the host keeps the state (the random source, the round-robin counter, the
// marks) and passes what a choice needs in each component.Selection. The same package is
// compiled into the host as the native twin (Twin) and, through the wrapper in ./wasm, into
// random-selector.wasm, which chooses from the wire form in place (WireSelector); both give
// identical choices.
package randomselector

import (
	"context"

	"github.com/microhost/microhost/host/component"
)

// Name is the stock selector's name: its module is random-selector.wasm.
const Name = "random-selector"

// Twin returns the native twin, for a component.Catalogue.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindSelector, Name: Name, Native: component.SelectorTwin{
		New: func() component.Selector { return Selector{} },
	}}
}

// Selector is the native selector. The zero value is ready to use.
type Selector struct{}

// ChoosesAmongPassing implements component.AmongPassing: the stock rule is this selector's.
func (Selector) ChoosesAmongPassing() bool { return true }

// Select implements component.Selector.
func (Selector) Select(_ context.Context, in *component.Selection) (int, error) {
	return Select(in)
}

// Select returns the index in in.Nodes of the chosen node: among the nodes that pass the
// filters, the one at Rand % n (StrategyRandom) or Counter % n (StrategyRoundRobin). It
// does not allocate.
func Select(in *component.Selection) (int, error) {
	if len(in.Nodes) == 0 {
		return -1, component.ErrNoNodes
	}
	n := 0
	for i := range in.Nodes {
		if in.Passes(&in.Nodes[i]) {
			n++
		}
	}
	if n == 0 {
		return -1, component.ErrNoneAvailable
	}
	var k uint64
	switch in.Strategy {
	case component.StrategyRoundRobin:
		k = in.Counter % uint64(n)
	default:
		k = in.Rand % uint64(n)
	}
	for i := range in.Nodes {
		if in.Passes(&in.Nodes[i]) {
			if k == 0 {
				return i, nil
			}
			k--
		}
	}
	return -1, component.ErrNoneAvailable // unreachable: k < n
}
