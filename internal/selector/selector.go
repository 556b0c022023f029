// Package selector picks the node a call goes to. It keeps the state a choice depends on —
// a seedable random source, a round-robin counter per service and the nodes marked as
// failing — and asks a selector component (component.Selector), native twin or Wasm module,
// to choose. It never imports a plugin: the command hands it the catalogue of native twins.
package selector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// ErrNoneAvailable is wrapped by Select's error when nodes exist but none passes the
// filters. It is component.ErrNoneAvailable.
var ErrNoneAvailable = component.ErrNoneAvailable

// Strategy names, as the [selector.options] table and the --strategy flag write them.
const (
	StrategyRandom     = "random"
	StrategyRoundRobin = "roundrobin"
)

// DefaultMarkPeriod is how long a node marked as failing is skipped, as Go Micro's
// blacklisting selector does.
const DefaultMarkPeriod = 60 * time.Second

// Options configure a Selector.
type Options struct {
	// Selector makes each choice: a native twin's or a Wasm module's (see NewWasm). Nil
	// means Builtin, the stock strategies compiled into the host for clients built without
	// a configured selector.
	Selector component.Selector
	// Strategy is StrategyRandom (default) or StrategyRoundRobin.
	Strategy string
	// Seed makes random choices repeatable; zero seeds from the runtime's random source.
	Seed uint64
	// MarkPeriod is how long a failing node is skipped (default DefaultMarkPeriod).
	MarkPeriod time.Duration
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Filter narrows the candidates of one call.
type Filter struct {
	// Version keeps only nodes of this service version.
	Version string
	// Labels keeps only nodes whose metadata has each key with the given value.
	Labels map[string]string
}

// Node is one candidate node: its id, address, service version and metadata.
type Node = component.SelectNode

// Selector chooses nodes. It is safe for concurrent use.
type Selector struct {
	impl     component.Selector
	strategy component.Strategy
	period   time.Duration
	now      func() time.Time
	// closer releases the Wasm module the Selector loaded; nil otherwise.
	closer func(context.Context) error
	// auto is the live switch of a selector in mode auto (load.go); nil otherwise.
	auto *wasmcomponent.Auto

	// inputs recycles the Selection of each call, so that a choice by a native twin does
	// not allocate.
	inputs sync.Pool

	mu       sync.Mutex
	rng      *rand.Rand
	counters map[string]uint64
	marks    map[string]time.Time // node ID → skip until
	lists    listMemory           // each node list's id and passing nodes (index.go)
}

// ParseStrategy reads a strategy's name; the empty string is StrategyRandom.
func ParseStrategy(s string) (component.Strategy, error) {
	switch s {
	case "", StrategyRandom:
		return component.StrategyRandom, nil
	case StrategyRoundRobin:
		return component.StrategyRoundRobin, nil
	}
	return 0, fmt.Errorf("unknown strategy %q (known: random, roundrobin)", s)
}

// New returns a Selector.
func New(opts Options) (*Selector, error) {
	strategy, err := ParseStrategy(opts.Strategy)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	s := &Selector{impl: opts.Selector, strategy: strategy, period: opts.MarkPeriod, now: opts.Now,
		counters: map[string]uint64{}, marks: map[string]time.Time{}}
	if s.impl == nil {
		s.impl = Builtin{}
	}
	if s.period <= 0 {
		s.period = DefaultMarkPeriod
	}
	if s.now == nil {
		s.now = time.Now
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	return s, nil
}

// Flatten turns a registry lookup into candidate nodes, each with its service's version.
func Flatten(services []*abi.Service) []Node {
	var nodes []Node
	for _, s := range services {
		for _, n := range s.Nodes {
			nodes = append(nodes, Node{ID: n.ID, Address: n.Address, Version: s.Version, Metadata: n.Metadata})
		}
	}
	return nodes
}

// Select chooses one of nodes for a call to service. With no nodes the error wraps
// abi.ErrServiceNotFound; with none passing the filters, ErrNoneAvailable. Nodes marked as
// failing are excluded, unless every node that passes the filters is marked: then the
// choice is made again without the marks rather than fail without trying.
//
// The Selector knows node lists by identity (an index of their passing nodes, an id sent to
// a Wasm selector instead of the nodes), so a list passed to Select must not be modified
// afterwards: pass a new slice when the nodes change, as a Flattener does.
func (s *Selector) Select(ctx context.Context, service string, nodes []Node, f Filter) (Node, error) {
	in, _ := s.inputs.Get().(*component.Selection)
	if in == nil {
		in = new(component.Selection)
	}
	defer func() {
		*in = component.Selection{Exclude: in.Exclude[:0]}
		s.inputs.Put(in)
	}()
	*in = component.Selection{Strategy: s.strategy, Version: f.Version, Labels: f.Labels, Nodes: nodes, Exclude: in.Exclude[:0]}
	s.mu.Lock()
	in.Rand = s.rng.Uint64()
	in.Counter = s.counters[service]
	s.counters[service]++
	now := s.now()
	for id, until := range s.marks {
		if now.Before(until) {
			in.Exclude = append(in.Exclude, id)
		} else {
			delete(s.marks, id)
		}
	}
	if len(in.Exclude) == 0 && len(f.Labels) == 0 && len(nodes) > 0 && s.amongPassing() {
		// The stock rule over an index of the list's passing nodes: the same choice as the
		// selector's, without a pass over every node (index.go).
		if passing := s.lists.passing(nodes, f.Version); len(passing) > 0 {
			k := in.Rand
			if in.Strategy == component.StrategyRoundRobin {
				k = in.Counter
			}
			s.mu.Unlock()
			return nodes[passing[k%uint64(len(passing))]], nil
		}
	}
	if len(nodes) > 0 {
		in.List = s.lists.id(nodes)
	}
	s.mu.Unlock()

	i, err := s.choose(ctx, in)
	if errors.Is(err, ErrNoneAvailable) && len(in.Exclude) > 0 {
		in.Exclude = in.Exclude[:0]
		i, err = s.choose(ctx, in)
	}
	if errors.Is(err, ErrNoneAvailable) {
		return Node{}, fmt.Errorf("select %s: %w: %s", service, err, missed(nodes, f))
	}
	if err != nil {
		return Node{}, fmt.Errorf("select %s: %w", service, err)
	}
	return nodes[i], nil
}

// missed says which filter of f left none of nodes: the version, a label (naming the values
// the nodes have), or, when each filter alone passes some node, their combination.
func missed(nodes []Node, f Filter) string {
	var why []string
	if f.Version != "" {
		have := map[string]bool{}
		match := false
		for _, n := range nodes {
			have[n.Version] = true
			match = match || n.Version == f.Version
		}
		if !match {
			why = append(why, fmt.Sprintf("no node has version %q (versions: %s)", f.Version, strings.Join(sortedKeys(have), ", ")))
		}
	}
	for _, key := range sortedKeys(f.Labels) {
		want := f.Labels[key]
		have := map[string]bool{}
		match := false
		for _, n := range nodes {
			if v, ok := n.Metadata[key]; ok {
				have[key+"="+v] = true
				match = match || v == want
			}
		}
		if !match {
			values := "no node has that label"
			if len(have) > 0 {
				values = "nodes have " + strings.Join(sortedKeys(have), ", ")
			}
			why = append(why, fmt.Sprintf("no node has label %s=%s (%s)", key, want, values))
		}
	}
	if len(why) == 0 {
		return fmt.Sprintf("none of the %d nodes passes every filter at once", len(nodes))
	}
	return strings.Join(why, "; ")
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// choose asks the component and checks that its answer is an index into in.Nodes.
func (s *Selector) choose(ctx context.Context, in *component.Selection) (int, error) {
	i, err := s.impl.Select(ctx, in)
	if err != nil {
		return -1, err
	}
	if i < 0 || i >= len(in.Nodes) {
		return -1, fmt.Errorf("the selector chose index %d of %d nodes", i, len(in.Nodes))
	}
	return i, nil
}

// Mark records the outcome of a call to node: an error skips the node for the mark period;
// success clears an earlier mark.
func (s *Selector) Mark(nodeID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.marks[nodeID] = s.now().Add(s.period)
	} else {
		delete(s.marks, nodeID)
	}
}

// Close releases the Wasm module the Selector runs, when Load loaded one. It is safe to
// call more than once.
func (s *Selector) Close(ctx context.Context) error {
	s.mu.Lock()
	closer := s.closer
	s.closer = nil
	s.mu.Unlock()
	if closer == nil {
		return nil
	}
	return closer(ctx)
}

// Builtin is the choice a Selector makes when it is given no component: among the nodes that
// pass the filters, the one at Rand % n, or Counter % n for round robin — the stock
// strategies, so that a client built without a configured selector (a test, a program
// embedding the client alone) chooses as the stock selector does.
type Builtin struct{}

// ChoosesAmongPassing implements component.AmongPassing.
func (Builtin) ChoosesAmongPassing() bool { return true }

// Select implements component.Selector.
func (Builtin) Select(_ context.Context, in *component.Selection) (int, error) {
	if len(in.Nodes) == 0 {
		return -1, component.ErrNoNodes
	}
	var candidates []int
	for i := range in.Nodes {
		if in.Passes(&in.Nodes[i]) {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return -1, component.ErrNoneAvailable
	}
	k := in.Rand
	if in.Strategy == component.StrategyRoundRobin {
		k = in.Counter
	}
	return candidates[k%uint64(len(candidates))], nil
}
