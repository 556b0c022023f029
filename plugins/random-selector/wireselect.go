package randomselector

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// WireSelector chooses straight from the wire form of an Input, without decoding it into
// Go values: it reads the filters, then walks the nodes once, comparing bytes in place and
// noting the candidates. It gives the same answer as Select(DecodeInput(b)) and allocates
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
	var strategy Strategy
	var random, counter uint64
	w.labels, w.exclude, w.version, w.candidates = w.labels[:0], w.exclude[:0], nil, w.candidates[:0]
	// Pass 1: the scalars and filters, wherever they stand; nodes are only skipped.
	for rest := b; len(rest) > 0; {
		num, typ, v, x, n := field(rest)
		if n < 0 {
			return -1, fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		}
		rest = rest[n:]
		switch {
		case typ == protowire.VarintType && num == 1:
			strategy = Strategy(x)
		case typ == protowire.VarintType && num == 2:
			random = x
		case typ == protowire.VarintType && num == 3:
			counter = x
		case typ == protowire.BytesType && num == 4:
			w.version = v
		case typ == protowire.BytesType && num == 5:
			k, val, err := entry(v)
			if err != nil {
				return -1, err
			}
			w.setLabel(k, val)
		case typ == protowire.BytesType && num == 6:
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
		return -1, ErrNotFound
	}
	if len(w.candidates) == 0 {
		return -1, ErrNoneAvailable
	}
	k := random % uint64(len(w.candidates))
	if strategy == RoundRobin {
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

// passes validates one node's wire form as decodeNode does and applies the filters.
func (w *WireSelector) passes(node []byte) (bool, error) {
	var id, version []byte
	for i := range w.matched {
		w.matched[i] = false
	}
	for len(node) > 0 {
		num, typ, v, _, n := field(node)
		if n < 0 {
			return false, fmt.Errorf("%w: node", ErrMalformed)
		}
		node = node[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			id = v
		case 3:
			version = v
		case 4:
			k, val, err := entry(v)
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

// entry reads a map entry's key and value, as decodeEntry does.
func entry(b []byte) (key, val []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return nil, nil, fmt.Errorf("%w: map entry", ErrMalformed)
		}
		v, l := protowire.ConsumeBytes(b[n:])
		if l < 0 {
			return nil, nil, fmt.Errorf("%w: map entry", ErrMalformed)
		}
		b = b[n+l:]
		switch num {
		case 1:
			key = v
		case 2:
			val = v
		}
	}
	return key, val, nil
}
