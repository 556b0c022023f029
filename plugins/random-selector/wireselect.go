package randomselector

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
)

// WireSelector chooses straight from the wire form of a component.Selection, without
// decoding it into Go values: it reads the filters, then walks the nodes once, comparing bytes in place and
// noting the candidates. It gives the same answer as Select after component.DecodeSelection,
// refuses the same malformed input, and allocates
// nothing once its scratch space has grown, which is what keeps the Wasm plugin fast on
// large services.
//
// It also keeps the last MaxLists node lists it was sent with an id (Selection.List), so that
// the host can name a list without sending its nodes again; for such a list it remembers,
// per version filter, which nodes pass, so a choice with no labels and no exclusions costs a
// lookup instead of a walk. A WireSelector is not safe for concurrent use; keep one per
// instance.
type WireSelector struct {
	labels     []pair
	matched    []bool
	exclude    [][]byte
	version    []byte
	candidates []int32
	lists      []*nodeList
	clock      uint64
}

// MaxLists is the number of node lists a WireSelector keeps; the least recently used one
// makes room for a new one.
const MaxLists = 8

// maxVersionsIndexed bounds the version filters a list keeps the passing nodes of.
const maxVersionsIndexed = 16

// nodeList is one kept node list: its nodes' wire form (SelectInput field 7 records, already
// validated), how many there are, and the passing positions per version filter.
type nodeList struct {
	id        uint64
	nodes     []byte
	count     int32
	byVersion map[string][]int32
	used      uint64
}

type pair struct{ key, val []byte }

// Select returns the index of the chosen node among the wire input's nodes.
func (w *WireSelector) Select(b []byte) (int, error) {
	var strategy component.Strategy
	var random, counter, list uint64
	hasNodes := false
	w.labels, w.exclude, w.version, w.candidates = w.labels[:0], w.exclude[:0], nil, w.candidates[:0]
	// Pass 1: the scalars and filters, wherever they stand; nodes are only skipped.
	for rest := b; len(rest) > 0; {
		num, typ, v, x, n := field(rest)
		if n < 0 {
			return -1, fmt.Errorf("%w: %w", component.ErrMalformedSelection, envelope.WireError(n))
		}
		hasNodes = hasNodes || num == 7
		rest = rest[n:]
		if num < 1 || num > 8 {
			continue
		}
		if want := wireType(num); typ != want {
			return -1, fmt.Errorf("%w: field %d has wire type %d, want %d", component.ErrMalformedSelection, num, typ, want)
		}
		switch num {
		case 1:
			strategy = component.Strategy(x)
		case 2:
			random = x
		case 3:
			counter = x
		case 4:
			w.version = v
		case 5:
			k, val, err := component.SelectionEntry(v)
			if err != nil {
				return -1, err
			}
			w.setLabel(k, val)
		case 6:
			w.exclude = append(w.exclude, v)
		case 8:
			list = x
		}
	}
	if cap(w.matched) < len(w.labels) {
		w.matched = make([]bool, len(w.labels))
	}
	w.matched = w.matched[:len(w.labels)]
	nodes := b
	if list != 0 && !hasNodes {
		// The list named without its nodes: one kept from an earlier call, or a 409 that has
		// the host send the nodes.
		l := w.find(list)
		if l == nil {
			return -1, fmt.Errorf("%w %d", component.ErrUnknownList, list)
		}
		if len(w.labels) == 0 && len(w.exclude) == 0 {
			return pick(l.count, l.passing(w, w.version), strategy, random, counter)
		}
		nodes = l.nodes
	}
	total, err := w.filter(nodes)
	if err != nil {
		return -1, err
	}
	if list != 0 && hasNodes {
		w.keep(list, total, b)
	}
	return pick(total, w.candidates, strategy, random, counter)
}

// pick applies the stock rule: of the candidates among total nodes, the one at random % n,
// or counter % n for round robin.
func pick(total int32, candidates []int32, strategy component.Strategy, random, counter uint64) (int, error) {
	if total == 0 {
		return -1, component.ErrNoNodes
	}
	if len(candidates) == 0 {
		return -1, component.ErrNoneAvailable
	}
	k := random % uint64(len(candidates))
	if strategy == component.StrategyRoundRobin {
		k = counter % uint64(len(candidates))
	}
	return int(candidates[k]), nil
}

// filter validates each node of nodes (the field 7 records of a SelectInput; other fields are
// skipped) and notes in w.candidates the positions of those that pass w's filters; it returns
// how many nodes there are.
func (w *WireSelector) filter(nodes []byte) (int32, error) {
	w.candidates = w.candidates[:0]
	total := int32(0)
	for rest := nodes; len(rest) > 0; {
		num, typ, v, _, n := field(rest)
		rest = rest[n:]
		if typ != protowire.BytesType || num != 7 {
			continue
		}
		ok, err := w.passes(v)
		if err != nil {
			return -1, err
		}
		if ok {
			w.candidates = append(w.candidates, total)
		}
		total++
	}
	return total, nil
}

// find returns the kept list id, or nil.
func (w *WireSelector) find(id uint64) *nodeList {
	for _, l := range w.lists {
		if l.id == id {
			w.clock++
			l.used = w.clock
			return l
		}
	}
	return nil
}

// keep stores the nodes of in, a SelectInput whose count nodes were just validated, as list
// id, in place of the least recently used list when MaxLists are kept.
func (w *WireSelector) keep(id uint64, count int32, in []byte) {
	l := w.find(id)
	if l == nil {
		if len(w.lists) < MaxLists {
			l = new(nodeList)
			w.lists = append(w.lists, l)
		} else {
			l = w.lists[0]
			for _, o := range w.lists[1:] {
				if o.used < l.used {
					l = o
				}
			}
		}
		w.clock++
		l.used = w.clock
	}
	l.id, l.count, l.nodes = id, count, l.nodes[:0]
	for rest := in; len(rest) > 0; {
		num, _, _, _, n := field(rest)
		if num == 7 {
			l.nodes = append(l.nodes, rest[:n]...)
		}
		rest = rest[n:]
	}
	clear(l.byVersion)
}

// passing returns the positions of l's nodes of version (any, when empty), from its index,
// walking the list once per version filter.
func (l *nodeList) passing(w *WireSelector, version []byte) []int32 {
	if p, ok := l.byVersion[string(version)]; ok {
		return p
	}
	if l.byVersion == nil || len(l.byVersion) >= maxVersionsIndexed {
		l.byVersion = map[string][]int32{}
	}
	// l's nodes were validated when kept, and w has no labels or exclusions now, so the walk
	// cannot fail.
	if _, err := w.filter(l.nodes); err != nil {
		return nil
	}
	p := append([]int32(nil), w.candidates...)
	l.byVersion[string(version)] = p
	return p
}

// field reads one field: v is a length-delimited field's bytes, x a varint's value; other
// wire types are skipped. n is the bytes consumed, negative on malformed input.
func field(b []byte) (num protowire.Number, typ protowire.Type, v []byte, x uint64, n int) {
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, 0, n
	}
	var m int
	switch typ {
	case protowire.VarintType:
		x, m = protowire.ConsumeVarint(b[n:])
	case protowire.BytesType:
		v, m = protowire.ConsumeBytes(b[n:])
	default:
		m = protowire.ConsumeFieldValue(num, typ, b[n:])
	}
	if m < 0 {
		return num, typ, nil, 0, m
	}
	return num, typ, v, x, n + m
}

// wireType is the wire type of field num (1 to 8) of a SelectInput.
func wireType(num protowire.Number) protowire.Type {
	if num <= 3 || num == 8 {
		return protowire.VarintType
	}
	return protowire.BytesType
}

// passes validates one node's wire form as component.DecodeSelection does and applies the
// filters.
func (w *WireSelector) passes(node []byte) (bool, error) {
	var id, version []byte
	for i := range w.matched {
		w.matched[i] = false
	}
	for len(node) > 0 {
		num, typ, v, _, n := field(node)
		if n < 0 {
			return false, fmt.Errorf("%w: node: %w", component.ErrMalformedSelection, envelope.WireError(n))
		}
		node = node[n:]
		if num < 1 || num > 4 {
			continue
		}
		if typ != protowire.BytesType {
			return false, fmt.Errorf("%w: node field %d has wire type %d, want 2", component.ErrMalformedSelection, num, typ)
		}
		switch num {
		case 1:
			id = v
		case 3:
			version = v
		case 4:
			k, val, err := component.SelectionEntry(v)
			if err != nil {
				return false, err
			}
			for i := range w.labels {
				if bytes.Equal(w.labels[i].key, k) {
					w.matched[i] = bytes.Equal(w.labels[i].val, val)
				}
			}
		}
	}
	if len(w.version) > 0 && !bytes.Equal(version, w.version) {
		return false, nil
	}
	for _, m := range w.matched {
		if !m {
			return false, nil
		}
	}
	for _, x := range w.exclude {
		if bytes.Equal(x, id) {
			return false, nil
		}
	}
	return true, nil
}

// setLabel keeps the last value given for a key, as decoding into a map does.
func (w *WireSelector) setLabel(k, v []byte) {
	for i := range w.labels {
		if bytes.Equal(w.labels[i].key, k) {
			w.labels[i].val = v
			return
		}
	}
	w.labels = append(w.labels, pair{k, v})
}
