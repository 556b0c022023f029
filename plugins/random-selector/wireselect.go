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
// large services. A WireSelector is not safe for concurrent use; keep one per instance.
type WireSelector struct {
	labels     []pair
	matched    []bool
	exclude    [][]byte
	version    []byte
	candidates []int32
}

type pair struct{ key, val []byte }

// Select returns the index of the chosen node among the wire input's nodes.
func (w *WireSelector) Select(b []byte) (int, error) {
	var strategy component.Strategy
	var random, counter uint64
	w.labels, w.exclude, w.version, w.candidates = w.labels[:0], w.exclude[:0], nil, w.candidates[:0]
	// Pass 1: the scalars and filters, wherever they stand; nodes are only skipped.
	for rest := b; len(rest) > 0; {
		num, typ, v, x, n := field(rest)
		if n < 0 {
			return -1, fmt.Errorf("%w: %w", component.ErrMalformedSelection, envelope.WireError(n))
		}
		rest = rest[n:]
		if num < 1 || num > 7 {
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
		}
	}
	if cap(w.matched) < len(w.labels) {
		w.matched = make([]bool, len(w.labels))
	}
	w.matched = w.matched[:len(w.labels)]
	// Pass 2: each node is checked and filtered in one walk of its fields.
	total := int32(0)
	for rest := b; len(rest) > 0; {
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
	if total == 0 {
		return -1, component.ErrNoNodes
	}
	if len(w.candidates) == 0 {
		return -1, component.ErrNoneAvailable
	}
	k := random % uint64(len(w.candidates))
	if strategy == component.StrategyRoundRobin {
		k = counter % uint64(len(w.candidates))
	}
	return int(w.candidates[k]), nil
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

// wireType is the wire type of field num (1 to 7) of a SelectInput.
func wireType(num protowire.Number) protowire.Type {
	if num <= 3 {
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
