package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// stockSelector is the stock selector, the only one held to the strategies' choices: any
// other selector may choose its own way among the nodes that pass the filters.
const stockSelector = "random-selector"

// selectorImpl is a selector under test: its component.Selector and, for a module, the raw
// operation (to feed it bytes no Selection encodes to).
type selectorImpl struct {
	sel component.Selector
	raw func(ctx context.Context, in []byte) ([]byte, error)
}

// selectorSuite is the selector kind's acceptance suite (abi/selector.md).
func selectorSuite() suite {
	return suite{
		ops: []string{component.OpSelect},
		wasm: func(ctx context.Context, l wasmcomponent.Loader, path, name string) (any, func(context.Context) error, error) {
			m, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{Kind: component.KindSelector, Name: name, Path: path,
				Ops: []string{component.OpSelect}, Options: host.ModuleOptions{PoolSize: 1}})
			if err != nil {
				return nil, nil, err
			}
			raw := func(ctx context.Context, in []byte) ([]byte, error) { return m.Call(ctx, component.OpSelect, in) }
			return selectorImpl{sel: selector.NewWasm(m), raw: raw}, m.Close, nil
		},
		native: func(_ context.Context, t component.Twin) (any, func(context.Context) error, error) {
			twin, ok := t.Native.(component.SelectorTwin)
			if !ok || twin.New == nil {
				return nil, nil, fmt.Errorf("selector twin %q: Native is a %T, not a component.SelectorTwin", t.Name, t.Native)
			}
			return selectorImpl{sel: twin.New()}, noRelease, nil
		},
		check: func(ctx context.Context, r *Report, impl any) {
			checkSelector(ctx, r, impl.(selectorImpl))
		},
	}
}

// selNodes returns n nodes of versions 1.0.0 and 2.0.0 in turn, in zones a, b, c in turn.
func selNodes(n int) []component.SelectNode {
	out := make([]component.SelectNode, n)
	for i := range out {
		out[i] = component.SelectNode{ID: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250),
			Version:  []string{"1.0.0", "2.0.0"}[i%2],
			Metadata: map[string]string{"zone": []string{"a", "b", "c"}[i%3], "index": fmt.Sprint(i)}}
	}
	return out
}

// choose runs one selection and checks the contract every answer must meet: an index into
// in.Nodes of a node that passes the filters, or the error the input calls for.
func choose(ctx context.Context, sel component.Selector, in *component.Selection) (int, error) {
	i, err := sel.Select(ctx, in)
	passing := 0
	for k := range in.Nodes {
		if in.Passes(&in.Nodes[k]) {
			passing++
		}
	}
	switch {
	case len(in.Nodes) == 0:
		if !errors.Is(err, abi.ErrServiceNotFound) {
			return i, fmt.Errorf("with no nodes, want an error wrapping %q (a 404 from a module), got index %d, error %v", abi.ErrServiceNotFound, i, err)
		}
		return i, nil
	case passing == 0:
		if !errors.Is(err, component.ErrNoneAvailable) {
			return i, fmt.Errorf("with no node passing the filters, want %q (a 503 from a module), got index %d, error %v", component.ErrNoneAvailable, i, err)
		}
		return i, nil
	case err != nil:
		return i, fmt.Errorf("%d of %d nodes pass the filters, yet the selector failed: %w", passing, len(in.Nodes), err)
	case i < 0 || i >= len(in.Nodes):
		return i, fmt.Errorf("chose index %d of %d nodes", i, len(in.Nodes))
	case !in.Passes(&in.Nodes[i]):
		n := in.Nodes[i]
		return i, fmt.Errorf("chose node %d (%s, version %q, metadata %v), which does not pass the filters (version %q, labels %v, exclude %v)",
			i, n.ID, n.Version, n.Metadata, in.Version, in.Labels, in.Exclude)
	}
	return i, nil
}

// checkSelector runs the selector checks: the contract for every selector, then the
// strategies for the stock one.
func checkSelector(ctx context.Context, r *Report, s selectorImpl) {
	sel := s.sel
	nodes := selNodes(12)
	one := func(name string, in component.Selection) {
		_, err := choose(ctx, sel, &in)
		r.Check(name, err)
	}
	one("chooses one of the nodes", component.Selection{Rand: 5, Nodes: nodes})
	one("honours the version filter", component.Selection{Rand: 7, Version: "2.0.0", Nodes: nodes})
	one("honours a label filter", component.Selection{Rand: 3, Labels: map[string]string{"zone": "b"}, Nodes: nodes})
	one("honours every label", component.Selection{Labels: map[string]string{"zone": "c", "index": "5"}, Nodes: nodes})
	one("honours version and labels together", component.Selection{Version: "1.0.0", Labels: map[string]string{"zone": "a"}, Nodes: nodes})
	one("skips excluded nodes", component.Selection{Rand: 1, Version: "1.0.0", Labels: map[string]string{"zone": "a"},
		Exclude: []string{"node-0", "node-6"}, Nodes: nodes})
	one("skips excluded nodes down to the last one", component.Selection{
		Exclude: []string{"node-0", "node-1", "node-2", "node-3", "node-4", "node-6", "node-7", "node-8", "node-9", "node-10", "node-11"}, Nodes: nodes})
	one("a label the nodes lack matches none", component.Selection{Labels: map[string]string{"rack": "1"}, Nodes: nodes})
	one("no nodes is a not-found error (404)", component.Selection{})
	one("filters matching nothing give none-available (503)", component.Selection{Version: "9.9.9", Nodes: nodes})
	one("excluding every node gives none-available (503)", component.Selection{
		Exclude: []string{"node-0", "node-1", "node-2"}, Nodes: nodes[:3]})

	// Random inputs: every answer keeps the contract, and the same input gives the same answer.
	rng := rand.New(rand.NewPCG(7, 11))
	var err error
	for c := 0; c < 200 && err == nil; c++ {
		in := component.Selection{Strategy: component.Strategy(rng.IntN(2)), Rand: rng.Uint64(), Counter: rng.Uint64(), Nodes: selNodes(rng.IntN(9))}
		if rng.IntN(3) == 0 {
			in.Version = []string{"1.0.0", "2.0.0", "3.0.0"}[rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			in.Labels = map[string]string{"zone": []string{"a", "b", "c", "z"}[rng.IntN(4)]}
		}
		for range rng.IntN(3) {
			in.Exclude = append(in.Exclude, fmt.Sprintf("node-%d", rng.IntN(9)))
		}
		var i, j int
		if i, err = choose(ctx, sel, &in); err == nil {
			j, err = choose(ctx, sel, &in)
			if err == nil && i != j {
				err = fmt.Errorf("the same input gave index %d, then %d: a selector is a function of its input", i, j)
			}
		}
		if err != nil {
			err = fmt.Errorf("case %d: %w", c, err)
		}
	}
	r.Check("every answer to random inputs keeps the contract", err)

	big := selNodes(10000)
	one("chooses among 10000 nodes", component.Selection{Rand: 12345, Nodes: big})
	one("filters 10000 nodes", component.Selection{Version: "2.0.0", Labels: map[string]string{"index": "9999"}, Nodes: big})

	if s.raw != nil {
		checkSelectorWire(ctx, r, s)
	}
	if r.Name == stockSelector {
		checkStockStrategies(ctx, r, sel)
	}
}

// checkSelectorWire feeds a module bytes that are not a SelectInput: each must be refused
// with a 400 error (not a trap), and the module must answer a good input afterwards.
func checkSelectorWire(ctx context.Context, r *Report, s selectorImpl) {
	good := component.AppendSelection(nil, &component.Selection{Nodes: selNodes(3)})
	for _, bad := range []struct {
		name string
		in   []byte
	}{
		{"a truncated tag", []byte{0xff}},
		{"a truncated varint", []byte{0x10, 0xff, 0xff}},
		{"a node longer than the input", []byte{0x3a, 0x05, 0x0a}},
		{"nodes field as a varint", []byte{0x38, 0x01}},
		{"strategy as a string", []byte{0x0a, 0x01, 'x'}},
		{"a label entry whose key is a varint", []byte{0x2a, 0x02, 0x08, 0x01}},
		{"a node id as a varint", []byte{0x3a, 0x02, 0x08, 0x01}},
		{"a group wire type", []byte{0x0b}},
		{"random bytes", []byte{0x3a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x01}},
	} {
		_, err := s.raw(ctx, bad.in)
		var ae *abi.Error
		switch {
		case err == nil:
			err = fmt.Errorf("input %x was accepted", bad.in)
		case !errors.As(err, &ae):
			err = fmt.Errorf("input %x: want a 400 error, got a failure that is not the module's error (a trap?): %w", bad.in, err)
		case ae.Code != http.StatusBadRequest:
			err = fmt.Errorf("input %x: want a 400 error, got %d: %s", bad.in, ae.Code, ae.Detail)
		default:
			err = nil
		}
		if err == nil {
			if out, gerr := s.raw(ctx, good); gerr != nil {
				err = fmt.Errorf("after input %x, a good input failed: %w", bad.in, gerr)
			} else if _, derr := component.DecodeSelectIndex(out, 3); derr != nil {
				err = fmt.Errorf("after input %x: %w", bad.in, derr)
			}
		}
		r.Check("refuses "+bad.name+" with a 400", err)
	}
	out, err := s.raw(ctx, good)
	if err == nil {
		_, err = component.DecodeSelectIndex(out, 3)
	}
	r.Check("replies with a SelectOutput record", err)
}

// checkStockStrategies checks the stock selector's choices: candidates[Rand % n] for
// random, candidates[Counter % n] for round robin, candidates in the nodes' order.
func checkStockStrategies(ctx context.Context, r *Report, sel component.Selector) {
	nodes := selNodes(6)
	var err error
	for c := uint64(0); c < 12 && err == nil; c++ {
		in := component.Selection{Strategy: component.StrategyRoundRobin, Counter: c, Rand: 99, Version: "2.0.0", Nodes: nodes}
		i, cerr := choose(ctx, sel, &in)
		if want := []int{1, 3, 5}[c%3]; cerr != nil || i != want {
			err = fmt.Errorf("round robin, counter %d: want node %d, got %d (%v)", c, want, i, cerr)
		}
	}
	r.Check("round robin takes the candidates in order over the counter", err)
	err = nil
	for k := uint64(0); k < 12 && err == nil; k++ {
		in := component.Selection{Rand: k, Counter: 5, Nodes: nodes}
		if i, cerr := choose(ctx, sel, &in); cerr != nil || i != int(k%6) {
			err = fmt.Errorf("random, rand %d: want node %d, got %d (%v)", k, k%6, i, cerr)
		}
	}
	r.Check("random takes candidate rand % n", err)
}
