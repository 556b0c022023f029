package selector

import (
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// maxIndexed bounds the nodes the index and the Flattener remember, over all the lists they
// hold; past it they start over, which costs one pass per list. A registry that hands out a
// new slice for every lookup (no cache in front) only ever fills and clears them.
const maxIndexed = 1 << 17

// listKey names a node list by identity: its first element and length. A list handed out
// again unchanged (the registry cache's, through a Flattener) has the same key; the map
// holds the list, so its memory cannot be reused for another.
type listKey struct {
	first *Node
	n     int
}

// listMemo is what the Selector remembers of one node list: the id it gives the list
// (Selection.List, sent to a Wasm selector that keeps node lists instead of the nodes), and
// per version filter the positions of the nodes that pass, so that a choice by the stock
// rule costs a map lookup instead of a pass over the list.
type listMemo struct {
	id      uint64
	passing map[string][]int
}

// listMemory holds the listMemo of each node list seen. Ids are never reused. It is guarded
// by the Selector's mutex.
type listMemory struct {
	m     map[listKey]*listMemo
	nodes int // each list's length, counted once for the list and once per version indexed
	last  uint64
}

// memo returns the memo of nodes, which must not be empty, starting one for a list not seen
// before.
func (x *listMemory) memo(nodes []Node) *listMemo {
	key := listKey{first: &nodes[0], n: len(nodes)}
	if m, ok := x.m[key]; ok {
		return m
	}
	x.reserve(len(nodes))
	x.last++
	m := &listMemo{id: x.last}
	x.m[key] = m
	return m
}

// reserve counts n more nodes remembered, starting over when that would pass maxIndexed; it
// reports whether what was remembered is kept.
func (x *listMemory) reserve(n int) bool {
	if x.m == nil || x.nodes+n > maxIndexed {
		x.m, x.nodes = map[listKey]*listMemo{}, n
		return false
	}
	x.nodes += n
	return true
}

// id returns the id of nodes, which must not be empty.
func (x *listMemory) id(nodes []Node) uint64 {
	return x.memo(nodes).id
}

// passing returns the positions in nodes, which must not be empty, of those of version
// (any, when empty).
func (x *listMemory) passing(nodes []Node, version string) []int {
	m := x.memo(nodes)
	if p, ok := m.passing[version]; ok {
		return p
	}
	p := make([]int, 0, len(nodes))
	for i := range nodes {
		if version == "" || nodes[i].Version == version {
			p = append(p, i)
		}
	}
	if !x.reserve(len(nodes)) {
		m = x.memo(nodes)
	}
	if m.passing == nil {
		m.passing = map[string][]int{}
	}
	m.passing[version] = p
	return p
}

// amongPassing reports whether the selector chooses by the stock rule now.
func (s *Selector) amongPassing() bool {
	ap, ok := s.impl.(component.AmongPassing)
	return ok && ap.ChoosesAmongPassing()
}

// Flattener is Flatten with a memory: for the same registry answer — the same slice, as the
// registry cache hands it out until the registrations change — it returns the same node
// list, so that the list is built once per change instead of once per call, and a
// Selector's index of it stays valid. The lists it returns are shared: do not modify them.
// It is safe for concurrent use; the zero value is ready.
type Flattener struct {
	mu    sync.Mutex
	memo  map[flatKey][]Node
	nodes int // the lengths of the lists in memo, summed
}

type flatKey struct {
	first **abi.Service
	n     int
}

// Flatten returns Flatten(services), from memory when services was seen before.
func (f *Flattener) Flatten(services []*abi.Service) []Node {
	if len(services) == 0 {
		return nil
	}
	key := flatKey{first: &services[0], n: len(services)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if nodes, ok := f.memo[key]; ok {
		return nodes
	}
	nodes := Flatten(services)
	if f.memo == nil || f.nodes+len(nodes) > maxIndexed {
		f.memo, f.nodes = map[flatKey][]Node{}, 0
	}
	f.memo[key] = nodes
	f.nodes += len(nodes)
	return nodes
}
