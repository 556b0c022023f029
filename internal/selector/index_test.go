package selector_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	. "github.com/microhost/microhost/internal/selector"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

// unindexed hides a selector's AmongPassing, so that every choice is its call.
type unindexed struct{ component.Selector }

// counting counts the calls a stock-rule selector gets.
type counting struct {
	randomselector.Selector
	calls int
}

func (c *counting) Select(ctx context.Context, in *component.Selection) (int, error) {
	c.calls++
	return c.Selector.Select(ctx, in)
}

// TestIndexChoosesAsTheSelector: the indexed choice is the node the selector itself would
// choose, call after call, for either strategy, any version filter and any list, with marks
// (which skip the index) in between; errors are the same too.
func TestIndexChoosesAsTheSelector(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	versions := []string{"1.0.0", "2.0.0", "3.0.0"}
	for c := range 300 {
		n := rng.IntN(40)
		nodes := make([]Node, n)
		for i := range nodes {
			nodes[i] = Node{ID: fmt.Sprintf("n%d", i), Address: fmt.Sprintf("127.0.0.1:%d", 9000+i), Version: versions[rng.IntN(len(versions))]}
		}
		strategy := []string{StrategyRandom, StrategyRoundRobin}[rng.IntN(2)]
		f := Filter{Version: []string{"", "1.0.0", "2.0.0", "9.9.9"}[rng.IntN(4)]}
		seed := rng.Uint64() | 1
		for _, impl := range []component.Selector{randomselector.Selector{}, Builtin{}} {
			indexed, err := New(Options{Seed: seed, Strategy: strategy, Selector: impl})
			require.NoError(t, err)
			called, err := New(Options{Seed: seed, Strategy: strategy, Selector: unindexed{impl}})
			require.NoError(t, err)
			for k := range 20 {
				if n > 0 && k == 10 {
					// A mark takes both off the index for a while; the sequences stay aligned.
					indexed.Mark(nodes[0].ID, errors.New("down"))
					called.Mark(nodes[0].ID, errors.New("down"))
				}
				if n > 0 && k == 15 {
					indexed.Mark(nodes[0].ID, nil)
					called.Mark(nodes[0].ID, nil)
				}
				a, aerr := indexed.Select(ctx, "greeter", nodes, f)
				b, berr := called.Select(ctx, "greeter", nodes, f)
				if berr != nil {
					require.Error(t, aerr, "case %d/%d", c, k)
					assert.Equal(t, berr.Error(), aerr.Error(), "case %d/%d", c, k)
					continue
				}
				require.NoError(t, aerr, "case %d/%d", c, k)
				require.Equal(t, b.ID, a.ID, "case %d/%d: %s, version %q", c, k, strategy, f.Version)
			}
		}
	}
}

// TestIndexSkipsTheCall: a stock-rule selector is not called for a list it has indexed, and
// is called again when marks, labels or a new list are in play.
func TestIndexSkipsTheCall(t *testing.T) {
	ctx := context.Background()
	impl := &counting{}
	s, err := New(Options{Seed: 1, Selector: impl})
	require.NoError(t, err)
	nodes := candidates(100)
	for range 50 {
		_, err := s.Select(ctx, "greeter", nodes, Filter{Version: "1.0.0"})
		require.NoError(t, err)
	}
	assert.Zero(t, impl.calls, "choices from the index")

	_, err = s.Select(ctx, "greeter", nodes, Filter{Labels: map[string]string{"zone": "a"}})
	require.NoError(t, err)
	assert.Equal(t, 1, impl.calls, "labels are the selector's to check")

	s.Mark(nodes[0].ID, errors.New("down"))
	_, err = s.Select(ctx, "greeter", nodes, Filter{})
	require.NoError(t, err)
	assert.Equal(t, 2, impl.calls, "marks are the selector's to apply")
}

// TestFlattenerRemembersAnAnswer: the same registry answer gives the same node list; another
// answer gives a list of its own.
func TestFlattenerRemembersAnAnswer(t *testing.T) {
	var f Flattener
	svcs := []*abi.Service{{Name: "greeter", Version: "1.0.0", Nodes: []abi.Node{{ID: "a", Address: "127.0.0.1:1"}}}}
	a, b := f.Flatten(svcs), f.Flatten(svcs)
	require.Len(t, a, 1)
	assert.Same(t, &a[0], &b[0])
	other := []*abi.Service{{Name: "greeter", Version: "2.0.0", Nodes: []abi.Node{{ID: "b", Address: "127.0.0.1:2"}}}}
	c := f.Flatten(other)
	assert.Equal(t, "2.0.0", c[0].Version)
	assert.Nil(t, f.Flatten(nil))
}
