package randomselector

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
)

type (
	Input = component.Selection
	Node  = component.SelectNode
)

const (
	RoundRobin = component.StrategyRoundRobin
)

var (
	AppendInput = component.AppendSelection
	DecodeInput = component.DecodeSelection
)

func nodes(n int) []Node {
	out := make([]Node, n)
	for i := range out {
		v := "1.0.0"
		if i%2 == 1 {
			v = "2.0.0"
		}
		out[i] = Node{ID: fmt.Sprintf("svc-%d", i), Address: fmt.Sprintf("127.0.0.1:%d", 9000+i), Version: v,
			Metadata: map[string]string{"zone": []string{"a", "b", "c"}[i%3]}}
	}
	return out
}

func TestSelectStrategiesAndFilters(t *testing.T) {
	ns := nodes(6)
	for c := range uint64(12) {
		i, err := Select(&Input{Strategy: RoundRobin, Counter: c, Nodes: ns})
		require.NoError(t, err)
		assert.Equal(t, int(c%6), i)
	}
	i, err := Select(&Input{Rand: 13, Nodes: ns})
	require.NoError(t, err)
	assert.Equal(t, 13%6, i)

	for c := range uint64(6) {
		i, err := Select(&Input{Strategy: RoundRobin, Counter: c, Version: "2.0.0", Nodes: ns})
		require.NoError(t, err)
		assert.Equal(t, "2.0.0", ns[i].Version)
		assert.Equal(t, []int{1, 3, 5}[c%3], i)
	}
	i, err = Select(&Input{Labels: map[string]string{"zone": "b"}, Version: "2.0.0", Nodes: ns})
	require.NoError(t, err)
	assert.Equal(t, 1, i)
	i, err = Select(&Input{Strategy: RoundRobin, Counter: 1, Exclude: []string{"svc-0", "svc-2"}, Nodes: ns[:3]})
	require.NoError(t, err)
	assert.Equal(t, 1, i)

	_, err = Select(&Input{Version: "9", Nodes: ns})
	assert.ErrorIs(t, err, component.ErrNoneAvailable)
	_, err = Select(&Input{})
	assert.ErrorIs(t, err, component.ErrNoNodes)
}

func TestSelectDoesNotAllocate(t *testing.T) {
	in := &Input{Version: "1.0.0", Labels: map[string]string{"zone": "a"}, Exclude: []string{"svc-6"}, Nodes: nodes(100)}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		in.Rand++
		if _, err := Select(in); err != nil {
			t.Fatal(err)
		}
	}))
}

func TestWireRoundTrip(t *testing.T) {
	in := Input{Strategy: RoundRobin, Rand: 1<<64 - 1, Counter: 42, Version: "2.0.0",
		Labels: map[string]string{"zone": "b", "": "empty-key"}, Exclude: []string{"svc-1", ""}, Nodes: nodes(5), List: 77}
	in.Nodes[0].Metadata = nil
	var out Input
	require.NoError(t, DecodeInput(AppendInput(nil, &in), &out))
	in.Nodes[0].Metadata = nil
	assert.Equal(t, in, out)

	require.NoError(t, DecodeInput(nil, &out))
	assert.Empty(t, out.Nodes)
	for _, bad := range [][]byte{{0x3a, 0x05, 0x0a}, {0x08}, {0xff}, {0x2a, 0x02, 0x08, 0x01}} {
		assert.Error(t, DecodeInput(bad, &out), "%x", bad)
	}
}

func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendInput(nil, &Input{Strategy: RoundRobin, Rand: 7, Version: "1", Labels: map[string]string{"a": "b"}, Exclude: []string{"x"}, Nodes: nodes(3)}))
	f.Add([]byte{0x3a, 0x05, 0x0a})
	f.Add(AppendInput(nil, &Input{List: 3, Version: "2.0.0", Nodes: nodes(4)}))
	f.Add([]byte{0x40, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		var in Input
		var ws WireSelector
		wi, werr := ws.Select(b)
		if err := DecodeInput(b, &in); err != nil {
			if werr == nil {
				t.Fatalf("DecodeInput refused what WireSelector took: %v", err)
			}
			return
		}
		if in.List != 0 && len(in.Nodes) == 0 {
			// A list named without nodes, which a new selector does not hold.
			if !errors.Is(werr, component.ErrUnknownList) {
				t.Fatalf("list %d without nodes: %d/%v, want ErrUnknownList", in.List, wi, werr)
			}
			return
		}
		i, err := Select(&in)
		if wi != i || !errors.Is(werr, err) {
			t.Fatalf("wire choice %d/%v, decoded choice %d/%v", wi, werr, i, err)
		}
		if err == nil && (i < 0 || i >= len(in.Nodes)) {
			t.Fatalf("index %d out of %d nodes", i, len(in.Nodes))
		}
		// What decodes re-encodes to something that decodes to the same input.
		var again Input
		if err := DecodeInput(AppendInput(nil, &in), &again); err != nil {
			t.Fatal(err)
		}
		j, err2 := Select(&again)
		if j != i || (err == nil) != (err2 == nil) {
			t.Fatalf("choice changed after re-encoding: %d/%v vs %d/%v", i, err, j, err2)
		}
	})
}

// A list sent once with an id is chosen from by its id alone, as if its nodes were sent
// again; an id the selector does not hold is ErrUnknownList, and the least recently used of
// MaxLists lists makes room for a new one.
func TestWireSelectorKeepsLists(t *testing.T) {
	var ws WireSelector
	lists := map[uint64][]Node{}
	for id := uint64(1); id <= MaxLists; id++ {
		lists[id] = nodes(int(id) * 3)
		_, err := ws.Select(AppendInput(nil, &Input{List: id, Nodes: lists[id]}))
		require.NoError(t, err)
	}
	for c := range uint64(60) {
		id := c%MaxLists + 1
		in := Input{Strategy: component.Strategy(c % 2), Rand: c * 7919, Counter: c, List: id, Nodes: lists[id]}
		switch c % 4 {
		case 1:
			in.Version = "2.0.0"
		case 2:
			in.Labels = map[string]string{"zone": "b"}
		case 3:
			in.Exclude = []string{"svc-0", "svc-1"}
		}
		want, werr := Select(&in)
		got, err := ws.Select(component.AppendSelectionWithoutNodes(nil, &in))
		if werr != nil {
			require.ErrorIs(t, err, werr, "choice %d", c)
			continue
		}
		require.NoError(t, err, "choice %d", c)
		require.Equal(t, want, got, "choice %d", c)
	}

	_, err := ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: 99}))
	require.ErrorIs(t, err, component.ErrUnknownList)

	// Lists 2 to 8 were used after list 1; a ninth list evicts list 1 only.
	for id := uint64(2); id <= MaxLists; id++ {
		_, err := ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: id}))
		require.NoError(t, err)
	}
	_, err = ws.Select(AppendInput(nil, &Input{List: 100, Nodes: nodes(4)}))
	require.NoError(t, err)
	_, err = ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: 1}))
	require.ErrorIs(t, err, component.ErrUnknownList)
	for _, id := range []uint64{2, MaxLists, 100} {
		_, err := ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: id}))
		require.NoError(t, err, "list %d", id)
	}

	// A list sent again under its id replaces what was kept.
	_, err = ws.Select(AppendInput(nil, &Input{List: 100, Nodes: nodes(2)}))
	require.NoError(t, err)
	i, err := ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: 100, Strategy: RoundRobin, Counter: 5}))
	require.NoError(t, err)
	assert.Equal(t, 1, i)

	// A malformed list is not kept.
	bad := append(AppendInput(nil, &Input{List: 200}), 0x3a, 0x03, 0x0a, 0x05, 0x41)
	_, err = ws.Select(bad)
	require.ErrorIs(t, err, component.ErrMalformedSelection)
	_, err = ws.Select(component.AppendSelectionWithoutNodes(nil, &Input{List: 200}))
	require.ErrorIs(t, err, component.ErrUnknownList)
}

// Choosing from a kept list by version allocates nothing once the version is indexed.
func TestWireSelectorKeptListDoesNotAllocate(t *testing.T) {
	var ws WireSelector
	_, err := ws.Select(AppendInput(nil, &Input{List: 1, Nodes: nodes(1000)}))
	require.NoError(t, err)
	in := &Input{List: 1, Version: "1.0.0"}
	b := component.AppendSelectionWithoutNodes(nil, in)
	_, err = ws.Select(b)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := ws.Select(b); err != nil {
			t.Fatal(err)
		}
	}))
}
