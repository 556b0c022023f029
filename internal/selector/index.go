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

// indexKey names a node list by identity — its first element and length — and a version
// filter. A list handed out again unchanged (the registry cache's, through a Flattener) has
// the same key; the map holds the list, so its memory cannot be reused for another.
type indexKey struct {
	first   *Node
	n       int
	version string
}

// passingIndex remembers, per node list and version, the positions of the nodes that pass,
// so that a choice by the stock rule costs a map lookup instead of a pass over the list. It
// is guarded by the Selector's mutex.
type passingIndex struct {
	m     map[indexKey][]int
	nodes int // the lengths of the lists in m, summed
}

// passing returns the positions in nodes of those of version (any, when empty).
func (x *passingIndex) passing(nodes []Node, version string) []int {
	key := indexKey{first: &nodes[0], n: len(nodes), version: version}
	if p, ok := x.m[key]; ok {
		return p
	}
	if x.m == nil || x.nodes+len(nodes) > maxIndexed {
		x.m, x.nodes = map[indexKey][]int{}, 0
	}
	p := make([]int, 0, len(nodes))
	for i := range nodes {
		if version == "" || nodes[i].Version == version {
			p = append(p, i)
		}
	}
	x.m[key] = p
	x.nodes += len(nodes)
	return p
}

// listIDs gives each node list, by identity, an id (Selection.List) that no other list gets:
// ids are never reused, and the map holds each list it names, so its memory cannot be
// reused for another. A Wasm selector that keeps node lists is then sent the id instead of
// the nodes. It is guarded by the Selector's mutex.
type listIDs struct {
	m     map[listKey]uint64
	nodes int // the lengths of the lists in m, summed
	last  uint64
}

type listKey struct {
	first *Node
	n     int
}

// id returns the id of nodes, which must not be empty.
func (l *listIDs) id(nodes []Node) uint64 {
	key := listKey{first: &nodes[0], n: len(nodes)}
	if id, ok := l.m[key]; ok {
		return id
	}
	if l.m == nil || l.nodes+len(nodes) > maxIndexed {
		l.m, l.nodes = map[listKey]uint64{}, 0
	}
	l.last++
	l.m[key] = l.last
	l.nodes += len(nodes)
	return l.last
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
