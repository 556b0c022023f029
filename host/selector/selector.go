// Package selector picks the node a call goes to. It keeps the state a choice depends on —
// a seedable random source, a round-robin counter per service and the nodes marked as
// failing — and asks the selector plugin, native or Wasm, to choose.
package selector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

// ErrNoneAvailable is wrapped by Select's error when nodes exist but none passes the
// filters or all are marked as failing.
var ErrNoneAvailable = errors.New("no node available")

// Strategy names.
const (
	StrategyRandom     = "random"
	StrategyRoundRobin = "roundrobin"
)

// DefaultMarkPeriod is how long a node marked as failing is skipped, as Go Micro's
// blacklisting selector does.
const DefaultMarkPeriod = 60 * time.Second

// Caller runs one operation of a plugin module; *host.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
}

// Options configure a Selector.
type Options struct {
	// Strategy is StrategyRandom (default) or StrategyRoundRobin.
	Strategy string
	// Seed makes random choices repeatable; zero seeds from the runtime's random source.
	Seed uint64
	// MarkPeriod is how long a failing node is skipped (default DefaultMarkPeriod).
	MarkPeriod time.Duration
	// Module, when set, makes the choice in the Wasm plugin instead of the native twin.
	Module Caller
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

// Selector chooses nodes. It is safe for concurrent use.
type Selector struct {
	strategy randomselector.Strategy
	period   time.Duration
	module   Caller
	now      func() time.Time

	mu       sync.Mutex
	rng      *rand.Rand
	counters map[string]uint64
	marks    map[string]time.Time // node ID → skip until
}

// New returns a Selector.
func New(opts Options) (*Selector, error) {
	s := &Selector{period: opts.MarkPeriod, module: opts.Module, now: opts.Now,
		counters: map[string]uint64{}, marks: map[string]time.Time{}}
	switch opts.Strategy {
	case "", StrategyRandom:
		s.strategy = randomselector.Random
	case StrategyRoundRobin:
		s.strategy = randomselector.RoundRobin
	default:
		return nil, fmt.Errorf("selector: unknown strategy %q (known: random, roundrobin)", opts.Strategy)
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
func Flatten(services []*abi.Service) []randomselector.Node {
	var nodes []randomselector.Node
	for _, s := range services {
		for _, n := range s.Nodes {
			nodes = append(nodes, randomselector.Node{ID: n.ID, Address: n.Address, Version: s.Version, Metadata: n.Metadata})
		}
	}
	return nodes
}

// Select chooses one of nodes for a call to service.
func (s *Selector) Select(ctx context.Context, service string, nodes []randomselector.Node, f Filter) (randomselector.Node, error) {
	in := randomselector.Input{Strategy: s.strategy, Version: f.Version, Labels: f.Labels, Nodes: nodes}
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
	s.mu.Unlock()

	i, err := s.choose(ctx, &in)
	if errors.Is(err, ErrNoneAvailable) && len(in.Exclude) > 0 {
		// Every node that passes the filters is marked as failing: try them anyway rather
		// than fail the call without trying.
		in.Exclude = nil
		i, err = s.choose(ctx, &in)
	}
	if err != nil {
		return randomselector.Node{}, fmt.Errorf("select %s: %w", service, err)
	}
	return nodes[i], nil
}

func (s *Selector) choose(ctx context.Context, in *randomselector.Input) (int, error) {
	if s.module == nil {
		i, err := randomselector.Select(in)
		return i, translate(err)
	}
	res, err := s.module.Call(ctx, &host.Request{Endpoint: "select", ContentType: "application/protobuf", Body: randomselector.AppendInput(nil, in)})
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			switch ae.Code {
			case http.StatusNotFound:
				return -1, abi.ErrServiceNotFound
			case http.StatusServiceUnavailable:
				return -1, ErrNoneAvailable
			}
		}
		return -1, err
	}
	v, n := protowire.ConsumeVarint(res.Body)
	if n < 0 || n != len(res.Body) || v >= uint64(len(in.Nodes)) {
		return -1, fmt.Errorf("selector plugin returned a bad index %x", res.Body)
	}
	return int(v), nil
}

func translate(err error) error {
	switch {
	case errors.Is(err, randomselector.ErrNotFound):
		return abi.ErrServiceNotFound
	case errors.Is(err, randomselector.ErrNoneAvailable):
		return ErrNoneAvailable
	}
	return err
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

// Node is one candidate node: its id, address, service version and metadata.
type Node = randomselector.Node
