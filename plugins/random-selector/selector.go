// Package randomselector is the stock selector plugin: given a service's nodes, the
// caller's filters and the nodes recently marked as failing, it picks one node at random or
// in round-robin order.
//
// It is a pure function, so any pooled Wasm instance can serve any call: the host keeps the
// state (the random source, the round-robin counter, the marks) and passes what a choice
// needs in each Input. The same package is compiled into the host as the native twin and,
// through the wrapper in ./wasm, into random-selector.wasm; both give identical choices.
package randomselector

import (
	"errors"
)

// Strategy says how a node is chosen among those that pass the filters.
type Strategy uint8

// Strategies.
const (
	// Random picks candidates[Rand % n].
	Random Strategy = iota
	// RoundRobin picks candidates[Counter % n].
	RoundRobin
)

// Node is one candidate node with the version of the service it belongs to.
type Node struct {
	ID       string
	Address  string
	Version  string
	Metadata map[string]string
}

// Input is everything one choice depends on.
type Input struct {
	Strategy Strategy
	// Rand is a random number from the host's (seedable) source, used by Random.
	Rand uint64
	// Counter is the host's per-service call counter, used by RoundRobin.
	Counter uint64
	// Version, when set, keeps only nodes of that service version.
	Version string
	// Labels keeps only nodes whose metadata has every key with the given value.
	Labels map[string]string
	// Exclude lists node IDs marked as failing; they are skipped.
	Exclude []string
	// Nodes are the candidates, in the registry's order.
	Nodes []Node
}

// ErrNoneAvailable is returned when no node passes the filters.
var ErrNoneAvailable = errors.New("none available")

// ErrNotFound is returned when there are no nodes at all.
var ErrNotFound = errors.New("not found")

// Select returns the index in in.Nodes of the chosen node. It does not allocate.
func Select(in *Input) (int, error) {
	if len(in.Nodes) == 0 {
		return -1, ErrNotFound
	}
	n := 0
	for i := range in.Nodes {
		if in.passes(&in.Nodes[i]) {
			n++
		}
	}
	if n == 0 {
		return -1, ErrNoneAvailable
	}
	var k uint64
	switch in.Strategy {
	case RoundRobin:
		k = in.Counter % uint64(n)
	default:
		k = in.Rand % uint64(n)
	}
	for i := range in.Nodes {
		if in.passes(&in.Nodes[i]) {
			if k == 0 {
				return i, nil
			}
			k--
		}
	}
	return -1, ErrNoneAvailable // unreachable: k < n
}

func (in *Input) passes(node *Node) bool {
	if in.Version != "" && node.Version != in.Version {
		return false
	}
	for key, want := range in.Labels {
		if got, ok := node.Metadata[key]; !ok || got != want {
			return false
		}
	}
	for _, id := range in.Exclude {
		if id == node.ID {
			return false
		}
	}
	return true
}
