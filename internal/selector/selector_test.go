package selector_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/hosttest"
	. "github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/wasmcomponent"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

var selectorWasm string

func TestMain(m *testing.M) {
	os.Exit(hosttest.Main(m, "./plugins/random-selector/wasm", &selectorWasm))
}

// testCompilations holds the compiled modules of the tests' runtimes, shared by them all,
// and keeps those no module uses: the tests load the same modules again and again, each load
// from the compilation cache a few tenths of a CPU-second or more under the race detector.
var testCompilations = host.NewCompilations(4)

// newRuntime returns a runtime on testCompilations, closed when t ends.
func newRuntime(t testing.TB) *host.Runtime {
	t.Helper()
	return hosttest.Runtime(t, testCompilations)
}

// loadModule loads the Go-built random-selector.wasm through the component adapter.
func loadModule(t testing.TB) component.Selector {
	t.Helper()
	ctx := context.Background()
	m, err := wasmcomponent.Load(ctx, newRuntime(t), wasmcomponent.Spec{Kind: component.KindSelector,
		Name: randomselector.Name, Path: selectorWasm, Ops: []string{component.OpSelect}, Options: host.ModuleOptions{PoolSize: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(ctx) })
	return NewWasm(m)
}

func candidates(n int) []Node {
	var svcs []*abi.Service
	for v, version := range []string{"1.0.0", "2.0.0"} {
		s := &abi.Service{Name: "greeter", Version: version}
		for i := v; i < n; i += 2 {
			s.Nodes = append(s.Nodes, abi.Node{ID: fmt.Sprintf("greeter-%d", i), Address: fmt.Sprintf("127.0.0.1:%d", 10000+i),
				Metadata: map[string]string{"zone": []string{"a", "b", "c"}[i%3]}})
		}
		svcs = append(svcs, s)
	}
	return Flatten(svcs)
}

// modes runs f with the native twin and with the Wasm plugin.
func modes(t *testing.T, f func(t *testing.T, module component.Selector)) {
	t.Run("native", func(t *testing.T) { f(t, randomselector.Selector{}) })
	t.Run("wasm", func(t *testing.T) { f(t, loadModule(t)) })
}

func TestSeededSpreadAndRoundRobin(t *testing.T) {
	modes(t, func(t *testing.T, module component.Selector) {
		ctx := context.Background()
		nodes := candidates(2)
		s, err := New(Options{Seed: 42, Selector: module})
		require.NoError(t, err)
		counts := map[string]int{}
		for range 1000 {
			n, err := s.Select(ctx, "greeter", nodes, Filter{})
			require.NoError(t, err)
			counts[n.ID]++
		}
		// A fair coin over 1000 tosses stays within 500±100 with overwhelming probability;
		// with a fixed seed the result is also repeatable.
		assert.InDelta(t, 500, counts["greeter-0"], 100)
		assert.Equal(t, 1000, counts["greeter-0"]+counts["greeter-1"])

		s2, err := New(Options{Seed: 42, Selector: module})
		require.NoError(t, err)
		s3, err := New(Options{Seed: 42, Selector: randomselector.Selector{}})
		require.NoError(t, err)
		for range 50 {
			a, _ := s2.Select(ctx, "greeter", nodes, Filter{})
			b, _ := s3.Select(ctx, "greeter", nodes, Filter{})
			require.Equal(t, b.ID, a.ID, "same seed, same choices, native or Wasm")
		}

		rr, err := New(Options{Strategy: StrategyRoundRobin, Selector: module})
		require.NoError(t, err)
		var got []string
		for range 6 {
			n, err := rr.Select(ctx, "greeter", nodes, Filter{})
			require.NoError(t, err)
			got = append(got, n.ID)
		}
		assert.Equal(t, []string{"greeter-0", "greeter-1", "greeter-0", "greeter-1", "greeter-0", "greeter-1"}, got)
	})
}

func TestFiltersAndMarks(t *testing.T) {
	modes(t, func(t *testing.T, module component.Selector) {
		ctx := context.Background()
		nodes := candidates(6)
		now := time.Unix(1000, 0)
		s, err := New(Options{Selector: module, MarkPeriod: time.Minute, Now: func() time.Time { return now }})
		require.NoError(t, err)
		for range 50 {
			n, err := s.Select(ctx, "greeter", nodes, Filter{Version: "2.0.0"})
			require.NoError(t, err)
			require.Equal(t, "2.0.0", n.Version)
			n, err = s.Select(ctx, "greeter", nodes, Filter{Labels: map[string]string{"zone": "b"}})
			require.NoError(t, err)
			require.Equal(t, "b", n.Metadata["zone"])
		}
		_, err = s.Select(ctx, "greeter", nodes, Filter{Version: "3.0.0"})
		require.ErrorIs(t, err, ErrNoneAvailable)
		// The error names the filter that matched nothing, and what the nodes have.
		assert.Contains(t, err.Error(), `no node has version "3.0.0" (versions: 1.0.0, 2.0.0)`)
		_, err = s.Select(ctx, "greeter", nodes, Filter{Labels: map[string]string{"zone": "d", "tier": "x"}})
		require.ErrorIs(t, err, ErrNoneAvailable)
		assert.Contains(t, err.Error(), "no node has label tier=x (no node has that label); no node has label zone=d (nodes have zone=a, zone=b, zone=c)")
		assert.NotContains(t, err.Error(), "version")
		// The first four are greeter-0, -2, -4 (1.0.0, zones a, c, b) and greeter-1 (2.0.0,
		// zone b): each filter passes some node, both together none.
		_, err = s.Select(ctx, "greeter", nodes[:4], Filter{Version: "2.0.0", Labels: map[string]string{"zone": "a"}})
		require.ErrorIs(t, err, ErrNoneAvailable)
		assert.Contains(t, err.Error(), "none of the 4 nodes passes every filter at once")
		_, err = s.Select(ctx, "greeter", nil, Filter{})
		require.ErrorIs(t, err, abi.ErrServiceNotFound)

		// A marked node is skipped for the period, then chosen again.
		a, b := nodes[0].ID, nodes[1].ID
		s.Mark(b, errors.New("connection refused"))
		for range 50 {
			n, err := s.Select(ctx, "greeter", nodes[:2], Filter{})
			require.NoError(t, err)
			require.Equal(t, a, n.ID)
		}
		// With every candidate marked, the selector still picks one rather than fail.
		s.Mark(a, errors.New("timeout"))
		_, err = s.Select(ctx, "greeter", nodes[:2], Filter{})
		require.NoError(t, err)
		now = now.Add(2 * time.Minute)
		seen := map[string]bool{}
		for range 100 {
			n, err := s.Select(ctx, "greeter", nodes[:2], Filter{})
			require.NoError(t, err)
			seen[n.ID] = true
		}
		assert.True(t, seen[b], "the mark expired")
	})
}

// TestDifferential feeds the same random inputs to the native twin and the Wasm plugin.
func TestDifferential(t *testing.T) {
	ctx := context.Background()
	m := loadModule(t)
	native := randomselector.Selector{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		nodes := candidates(r.IntN(20))
		in := component.Selection{Strategy: component.Strategy(r.IntN(2)), Rand: r.Uint64(), Counter: r.Uint64(), Nodes: nodes}
		if r.IntN(3) == 0 {
			in.Version = []string{"1.0.0", "2.0.0", "9"}[r.IntN(3)]
		}
		if r.IntN(3) == 0 {
			in.Labels = map[string]string{"zone": []string{"a", "b", "c", "z"}[r.IntN(4)]}
		}
		if len(nodes) > 0 && r.IntN(2) == 0 {
			in.Exclude = []string{nodes[r.IntN(len(nodes))].ID}
		}
		want, werr := native.Select(ctx, &in)
		got, gerr := m.Select(ctx, &in)
		builtin, berr := Builtin{}.Select(ctx, &in)
		if werr != nil {
			require.ErrorIs(t, gerr, werr, "case %d", i)
			require.ErrorIs(t, berr, werr, "case %d", i)
			continue
		}
		require.NoError(t, gerr, "case %d", i)
		require.Equal(t, want, got, "case %d", i)
		require.Equal(t, want, builtin, "case %d: the builtin choice is the stock one", i)
	}
}

// Through two Selectors seeded alike, one on the native twin and one on the Wasm module with
// two instances, a dozen node lists used in turn (more than the module keeps) get the same
// choices, filters and marks included; most selections name their list without its nodes,
// and a list an instance does not hold (the other instance's, or one it evicted) is sent
// again.
func TestWasmSelectorNamesKeptLists(t *testing.T) {
	ctx := context.Background()
	m, err := wasmcomponent.Load(ctx, newRuntime(t), wasmcomponent.Spec{Kind: component.KindSelector,
		Name: randomselector.Name, Path: selectorWasm, Ops: []string{component.OpSelect}, Options: host.ModuleOptions{PoolSize: 2}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(ctx) })
	module := NewWasm(m)
	wasm, err := New(Options{Seed: 7, Selector: module})
	require.NoError(t, err)
	native, err := New(Options{Seed: 7, Selector: unindexed{randomselector.Selector{}}})
	require.NoError(t, err)

	var lists [][]Node
	for i := range 12 {
		lists = append(lists, candidates(3+i*5))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 600 {
		nodes := lists[r.IntN(len(lists))]
		var f Filter
		switch r.IntN(4) {
		case 1:
			f.Version = "2.0.0"
		case 2:
			f.Labels = map[string]string{"zone": "b"}
		}
		if r.IntN(20) == 0 {
			id := nodes[r.IntN(len(nodes))].ID
			wasm.Mark(id, errors.New("refused"))
			native.Mark(id, errors.New("refused"))
		}
		want, werr := native.Select(ctx, "greeter", nodes, f)
		got, gerr := wasm.Select(ctx, "greeter", nodes, f)
		require.Equal(t, werr == nil, gerr == nil, "selection %d: %v / %v", i, werr, gerr)
		require.Equal(t, want.ID, got.ID, "selection %d", i)
	}
	named := SelectionsWithoutNodes(module)
	assert.Greater(t, named, int64(400), "selections that named a kept list")
	t.Logf("%d select calls (of 600 selections, retries included) named their list without its nodes", named)
}

func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		nodes := candidates(n)
		// native: the stock twin, chosen from the index of the list; native-per-call: the
		// same twin asked every time (a pass over the list, as a selector without the stock
		// rule gets); wasm: the module, which keeps the list and is sent its id.
		for _, mode := range []string{"native", "native-per-call", "wasm"} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, mode), func(b *testing.B) {
				var module component.Selector = randomselector.Selector{}
				switch mode {
				case "native-per-call":
					module = unindexed{module}
				case "wasm":
					module = loadModule(b)
				}
				s, err := New(Options{Seed: 1, Selector: module})
				require.NoError(b, err)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Select(ctx, "greeter", nodes, Filter{Version: "1.0.0"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
