package selector

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
	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/internal/hosttest"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

var selectorWasm string

func TestMain(m *testing.M) {
	os.Exit(hosttest.Main(m, "./plugins/random-selector/wasm", &selectorWasm))
}

func loadModule(t testing.TB) *host.Module {
	t.Helper()
	m := hosttest.Load(t, selectorWasm, host.ModuleOptions{PoolSize: 1})
	require.Equal(t, abi.KindSelector, m.Descriptor().Kind)
	return m
}

func candidates(n int) []randomselector.Node {
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
func modes(t *testing.T, f func(t *testing.T, module Caller)) {
	t.Run("native", func(t *testing.T) { f(t, nil) })
	t.Run("wasm", func(t *testing.T) { f(t, loadModule(t)) })
}

func TestSeededSpreadAndRoundRobin(t *testing.T) {
	modes(t, func(t *testing.T, module Caller) {
		ctx := context.Background()
		nodes := candidates(2)
		s, err := New(Options{Seed: 42, Module: module})
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

		s2, err := New(Options{Seed: 42, Module: module})
		require.NoError(t, err)
		s3, err := New(Options{Seed: 42})
		require.NoError(t, err)
		for range 50 {
			a, _ := s2.Select(ctx, "greeter", nodes, Filter{})
			b, _ := s3.Select(ctx, "greeter", nodes, Filter{})
			require.Equal(t, b.ID, a.ID, "same seed, same choices, native or Wasm")
		}

		rr, err := New(Options{Strategy: StrategyRoundRobin, Module: module})
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
	modes(t, func(t *testing.T, module Caller) {
		ctx := context.Background()
		nodes := candidates(6)
		now := time.Unix(1000, 0)
		s, err := New(Options{Module: module, MarkPeriod: time.Minute, Now: func() time.Time { return now }})
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
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		nodes := candidates(r.IntN(20))
		in := randomselector.Input{Strategy: randomselector.Strategy(r.IntN(2)), Rand: r.Uint64(), Counter: r.Uint64(), Nodes: nodes}
		if r.IntN(3) == 0 {
			in.Version = []string{"1.0.0", "2.0.0", "9"}[r.IntN(3)]
		}
		if r.IntN(3) == 0 {
			in.Labels = map[string]string{"zone": []string{"a", "b", "c", "z"}[r.IntN(4)]}
		}
		if len(nodes) > 0 && r.IntN(2) == 0 {
			in.Exclude = []string{nodes[r.IntN(len(nodes))].ID}
		}
		want, werr := (&Selector{}).choose(ctx, &in)
		got, gerr := (&Selector{module: m}).choose(ctx, &in)
		require.Equal(t, want, got, "case %d", i)
		require.Equal(t, werr, gerr, "case %d", i)
	}
}

func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		nodes := candidates(n)
		for _, mode := range []string{"native", "wasm"} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, mode), func(b *testing.B) {
				var module Caller
				if mode == "wasm" {
					module = loadModule(b)
				}
				s, err := New(Options{Seed: 1, Module: module})
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
