package component

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
)

// Selector is the selector kind: given the nodes of a service and the caller's filters, it
// chooses the node a call goes to. It is a pure function of its input — the host keeps the
// state a choice depends on (the random source, the round-robin counters, the nodes marked
// as failing) and passes what one choice needs in each Selection — so any pooled instance
// of a Wasm selector can serve any call. Its one operation is "select" (abi/selector.md).
//
// Select returns the index into in.Nodes of the chosen node, which must pass in's filters
// (see Selection.Passes). With no nodes at all it returns an error wrapping ErrNoNodes; when
// nodes exist but none passes the filters, one wrapping ErrNoneAvailable.
type Selector interface {
	Select(ctx context.Context, in *Selection) (int, error)
}

// AmongPassing is implemented by a selector whose choice is, by contract, the stock rule: of
// the n nodes that pass the Selection's filters and exclusions, in their order, the one at
// Rand % n (StrategyRandom) or Counter % n (StrategyRoundRobin). For such a selector the host
// may keep the passing nodes of a node list indexed, and choose from the index without the
// call, with the same result. ChoosesAmongPassing reports whether the rule holds now (a
// selector that forwards to another answers for that one).
type AmongPassing interface {
	ChoosesAmongPassing() bool
}

// SelectorTwin is what a selector's native twin puts in Twin.Native.
type SelectorTwin struct {
	// New returns the twin's Selector.
	New func() Selector
}

// OpSelect is the selector's one operation.
const OpSelect = "select"

// Strategy says how the stock selector chooses among the nodes that pass the filters. A
// selector may choose its own way and ignore it.
type Strategy uint32

// Strategies.
const (
	// StrategyRandom picks candidates[Rand % n].
	StrategyRandom Strategy = 0
	// StrategyRoundRobin picks candidates[Counter % n].
	StrategyRoundRobin Strategy = 1
)

// SelectNode is one candidate node, with the version of the service it belongs to.
type SelectNode struct {
	ID       string
	Address  string
	Version  string
	Metadata map[string]string
}

// Selection is everything one choice depends on: the input record of operation "select".
type Selection struct {
	// Strategy is the configured strategy.
	Strategy Strategy
	// Rand is a random number from the host's (seedable) source.
	Rand uint64
	// Counter is the host's per-service call counter, for round robin.
	Counter uint64
	// Version, when set, keeps only nodes of that service version.
	Version string
	// Labels keeps only nodes whose metadata has every key with the given value.
	Labels map[string]string
	// Exclude lists node IDs marked as failing; they are skipped.
	Exclude []string
	// Nodes are the candidates, in the registry's order.
	Nodes []SelectNode
	// List, when not zero, names Nodes: the host gives an id to one node list only, and
	// never gives it again to another. A selector module that keeps node lists (it declares
	// SelectListsMetadata on its select operation) may then be sent the id without the nodes
	// (abi/selector.md, "Node lists"); other selectors ignore it.
	List uint64
}

// SelectListsMetadata is the metadata key of the select operation by which a selector
// module says it keeps node lists, with the number it keeps as the value ("8").
const SelectListsMetadata = "node_lists"

// ErrUnknownList is the selector's answer (code 409 from a module) to a Selection that names
// a List without its Nodes when it does not hold that list: the host then sends the nodes.
var ErrUnknownList = errors.New("unknown node list")

// Passes reports whether node passes in's filters: its version (when in.Version is set),
// every label, and not excluded. It is the contract every selector's choice must meet.
func (in *Selection) Passes(node *SelectNode) bool {
	if in.Version != "" && node.Version != in.Version {
		return false
	}
	for key, want := range in.Labels {
		if got, ok := node.Metadata[key]; !ok || got != want {
			return false
		}
	}
	for _, id := range in.Exclude {
		if id == node.ID {
			return false
		}
	}
	return true
}

// The selector's errors. A Wasm selector reports them as ABI errors with codes 404
// (ErrNoNodes) and 503 (ErrNoneAvailable); a malformed input is a 400.
var (
	// ErrNoNodes means there were no nodes at all; it wraps abi.ErrServiceNotFound.
	ErrNoNodes = fmt.Errorf("no nodes: %w", abi.ErrServiceNotFound)
	// ErrNoneAvailable means nodes exist but none passes the filters.
	ErrNoneAvailable = errors.New("no node available")
	// ErrMalformedSelection is wrapped by DecodeSelection's errors.
	ErrMalformedSelection = errors.New("malformed select input")
)

// Field numbers of the selector records (abi/proto/selector.proto).
const (
	selStrategy = 1
	selRand     = 2
	selCounter  = 3
	selVersion  = 4
	selLabels   = 5
	selExclude  = 6
	selNodes    = 7
	selList     = 8

	nodeID       = 1
	nodeAddress  = 2
	nodeVersion  = 3
	nodeMetadata = 4

	outIndex = 1
)

// AppendSelection appends the wire form of in (message SelectInput) to dst. Fields holding
// their zero value are left out, as proto3 does; map entries come in map order.
func AppendSelection(dst []byte, in *Selection) []byte {
	dst = AppendSelectionWithoutNodes(dst, in)
	return appendNodes(dst, in.Nodes)
}

// AppendSelectionWithoutNodes is AppendSelection without in.Nodes: what is sent to a selector
// module that keeps node lists when it may hold in.List already.
func AppendSelectionWithoutNodes(dst []byte, in *Selection) []byte {
	dst = appendVarintField(dst, selStrategy, uint64(in.Strategy))
	dst = appendVarintField(dst, selRand, in.Rand)
	dst = appendVarintField(dst, selCounter, in.Counter)
	dst = appendStringField(dst, selVersion, in.Version)
	dst = appendMapField(dst, selLabels, in.Labels)
	for _, id := range in.Exclude {
		dst = protowire.AppendTag(dst, selExclude, protowire.BytesType)
		dst = protowire.AppendString(dst, id)
	}
	return appendVarintField(dst, selList, in.List)
}

// appendNodes appends nodes as SelectInput's field 7.
func appendNodes(dst []byte, nodes []SelectNode) []byte {
	for i := range nodes {
		n := &nodes[i]
		size := stringFieldSize(nodeID, n.ID) + stringFieldSize(nodeAddress, n.Address) +
			stringFieldSize(nodeVersion, n.Version) + mapFieldSize(nodeMetadata, n.Metadata)
		dst = protowire.AppendTag(dst, selNodes, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(size))
		dst = appendStringField(dst, nodeID, n.ID)
		dst = appendStringField(dst, nodeAddress, n.Address)
		dst = appendStringField(dst, nodeVersion, n.Version)
		dst = appendMapField(dst, nodeMetadata, n.Metadata)
	}
	return dst
}

// DecodeSelection decodes the wire form of a SelectInput into in, reusing in's slices.
// Unknown fields are skipped; a field of a known number with another wire type, or a
// truncated record, is an error wrapping ErrMalformedSelection.
func DecodeSelection(b []byte, in *Selection) error {
	*in = Selection{Nodes: in.Nodes[:0], Exclude: in.Exclude[:0]}
	for len(b) > 0 {
		num, typ, v, x, n := consumeField(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", ErrMalformedSelection, envelope.WireError(n))
		}
		b = b[n:]
		if num < selStrategy || num > selList {
			continue
		}
		want := protowire.BytesType
		if num <= selCounter || num == selList {
			want = protowire.VarintType
		}
		if typ != want {
			return fmt.Errorf("%w: field %d has wire type %d, want %d", ErrMalformedSelection, num, typ, want)
		}
		switch num {
		case selStrategy:
			in.Strategy = Strategy(x)
		case selRand:
			in.Rand = x
		case selCounter:
			in.Counter = x
		case selList:
			in.List = x
		case selVersion:
			in.Version = string(v)
		case selLabels:
			if in.Labels == nil {
				in.Labels = map[string]string{}
			}
			if err := decodeEntry(v, in.Labels); err != nil {
				return err
			}
		case selExclude:
			in.Exclude = append(in.Exclude, string(v))
		case selNodes:
			var node SelectNode
			if err := decodeNode(v, &node); err != nil {
				return err
			}
			in.Nodes = append(in.Nodes, node)
		}
	}
	return nil
}

// AppendSelectIndex appends the wire form of the reply of "select" (message SelectOutput)
// holding index i: empty for 0, else field 1 as a varint.
func AppendSelectIndex(dst []byte, i int) []byte {
	return appendVarintField(dst, outIndex, uint64(i))
}

// DecodeSelectIndex reads the reply of "select". The index must be below n, the number of
// nodes the selector was given.
func DecodeSelectIndex(b []byte, n int) (int, error) {
	var index uint64
	for rest := b; len(rest) > 0; {
		num, typ, _, x, m := consumeField(rest)
		if m < 0 {
			return -1, fmt.Errorf("malformed select output %x: %w", b, envelope.WireError(m))
		}
		rest = rest[m:]
		if num == outIndex {
			if typ != protowire.VarintType {
				return -1, fmt.Errorf("malformed select output %x: index has wire type %d, want 0 (varint)", b, typ)
			}
			index = x
		}
	}
	if index >= uint64(n) {
		return -1, fmt.Errorf("the selector chose index %d of %d nodes", index, n)
	}
	return int(index), nil
}

// consumeField reads one field: v is a length-delimited field's bytes, x a varint's value;
// other wire types are skipped. n is the bytes consumed, negative on malformed input.
func consumeField(b []byte) (num protowire.Number, typ protowire.Type, v []byte, x uint64, n int) {
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

func decodeNode(b []byte, node *SelectNode) error {
	for len(b) > 0 {
		num, typ, v, _, n := consumeField(b)
		if n < 0 {
			return fmt.Errorf("%w: node: %w", ErrMalformedSelection, envelope.WireError(n))
		}
		b = b[n:]
		if num < nodeID || num > nodeMetadata {
			continue
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("%w: node field %d has wire type %d, want 2", ErrMalformedSelection, num, typ)
		}
		switch num {
		case nodeID:
			node.ID = string(v)
		case nodeAddress:
			node.Address = string(v)
		case nodeVersion:
			node.Version = string(v)
		case nodeMetadata:
			if node.Metadata == nil {
				node.Metadata = map[string]string{}
			}
			if err := decodeEntry(v, node.Metadata); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeEntry decodes one map entry (key = 1, value = 2) into m.
func decodeEntry(b []byte, m map[string]string) error {
	key, val, err := SelectionEntry(b)
	if err != nil {
		return err
	}
	m[string(key)] = string(val)
	return nil
}

// SelectionEntry reads the key and value of one map entry of a selector record (labels,
// metadata), for selectors that read the wire form in place.
func SelectionEntry(b []byte) (key, val []byte, err error) {
	for len(b) > 0 {
		num, typ, v, _, n := consumeField(b)
		if n < 0 {
			return nil, nil, fmt.Errorf("%w: map entry: %w", ErrMalformedSelection, envelope.WireError(n))
		}
		b = b[n:]
		if num != 1 && num != 2 {
			continue
		}
		if typ != protowire.BytesType {
			return nil, nil, fmt.Errorf("%w: map entry field %d has wire type %d, want 2", ErrMalformedSelection, num, typ)
		}
		if num == 1 {
			key = v
		} else {
			val = v
		}
	}
	return key, val, nil
}

func appendVarintField(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

func appendStringField(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func stringFieldSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func entrySize(k, v string) int {
	return stringFieldSize(1, k) + stringFieldSize(2, v)
}

func appendMapField(dst []byte, num protowire.Number, m map[string]string) []byte {
	for k, v := range m {
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(entrySize(k, v)))
		dst = appendStringField(dst, 1, k)
		dst = appendStringField(dst, 2, v)
	}
	return dst
}

func mapFieldSize(num protowire.Number, m map[string]string) int {
	size := 0
	for k, v := range m {
		size += protowire.SizeTag(num) + protowire.SizeBytes(entrySize(k, v))
	}
	return size
}
