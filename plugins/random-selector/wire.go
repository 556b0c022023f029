package randomselector

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The wire form of Input, used between the host and the Wasm module, is a protobuf message
// (so any language can produce it with its protobuf library or by hand):
//
//	message SelectInput {
//	  uint32 strategy = 1;             // 0 random, 1 round robin
//	  uint64 rand = 2;
//	  uint64 counter = 3;
//	  string version = 4;
//	  map<string, string> labels = 5;  // entries: key = 1, value = 2
//	  repeated string exclude = 6;
//	  repeated SelectNode nodes = 7;
//	}
//	message SelectNode {
//	  string id = 1;
//	  string address = 2;
//	  string version = 3;
//	  map<string, string> metadata = 4;
//	}
//
// The reply of the "select" operation is the chosen index as a protobuf varint.

// AppendInput appends the wire form of in to dst.
func AppendInput(dst []byte, in *Input) []byte {
	if in.Strategy != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(in.Strategy))
	}
	if in.Rand != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, in.Rand)
	}
	if in.Counter != 0 {
		dst = protowire.AppendTag(dst, 3, protowire.VarintType)
		dst = protowire.AppendVarint(dst, in.Counter)
	}
	dst = appendString(dst, 4, in.Version)
	dst = appendMap(dst, 5, in.Labels)
	for _, id := range in.Exclude {
		dst = protowire.AppendTag(dst, 6, protowire.BytesType)
		dst = protowire.AppendString(dst, id)
	}
	for i := range in.Nodes {
		n := &in.Nodes[i]
		size := stringSize(1, n.ID) + stringSize(2, n.Address) + stringSize(3, n.Version) + mapSize(4, n.Metadata)
		dst = protowire.AppendTag(dst, 7, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(size))
		dst = appendString(dst, 1, n.ID)
		dst = appendString(dst, 2, n.Address)
		dst = appendString(dst, 3, n.Version)
		dst = appendMap(dst, 4, n.Metadata)
	}
	return dst
}

func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func stringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func entrySize(k, v string) int {
	return stringSize(1, k) + stringSize(2, v)
}

func appendMap(dst []byte, num protowire.Number, m map[string]string) []byte {
	for k, v := range m {
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(entrySize(k, v)))
		dst = appendString(dst, 1, k)
		dst = appendString(dst, 2, v)
	}
	return dst
}

func mapSize(num protowire.Number, m map[string]string) int {
	size := 0
	for k, v := range m {
		e := entrySize(k, v)
		size += protowire.SizeTag(num) + protowire.SizeBytes(e)
	}
	return size
}

// ErrMalformed is wrapped by the errors of DecodeInput and WireSelector.Select.
var ErrMalformed = errors.New("malformed select input")

// DecodeInput decodes the wire form into in, reusing in's slices.
func DecodeInput(b []byte, in *Input) error {
	*in = Input{Nodes: in.Nodes[:0], Exclude: in.Exclude[:0]}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && num <= 3:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case 1:
				in.Strategy = Strategy(v)
			case 2:
				in.Rand = v
			case 3:
				in.Counter = v
			}
		case typ == protowire.BytesType && num >= 4 && num <= 7:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			var err error
			switch num {
			case 4:
				in.Version = string(v)
			case 5:
				if in.Labels == nil {
					in.Labels = map[string]string{}
				}
				err = decodeEntry(v, in.Labels)
			case 6:
				in.Exclude = append(in.Exclude, string(v))
			case 7:
				var node Node
				err = decodeNode(v, &node)
				in.Nodes = append(in.Nodes, node)
			}
			if err != nil {
				return err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func decodeNode(b []byte, node *Node) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			if n >= 0 {
				m := protowire.ConsumeFieldValue(num, typ, b[n:])
				if m >= 0 {
					b = b[n+m:]
					continue
				}
			}
			return fmt.Errorf("%w: node", ErrMalformed)
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return fmt.Errorf("%w: node field %d", ErrMalformed, num)
		}
		b = b[n+m:]
		switch num {
		case 1:
			node.ID = string(v)
		case 2:
			node.Address = string(v)
		case 3:
			node.Version = string(v)
		case 4:
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

func decodeEntry(b []byte, m map[string]string) error {
	var key, val string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return fmt.Errorf("%w: map entry", ErrMalformed)
		}
		v, l := protowire.ConsumeBytes(b[n:])
		if l < 0 {
			return fmt.Errorf("%w: map entry", ErrMalformed)
		}
		b = b[n+l:]
		switch num {
		case 1:
			key = string(v)
		case 2:
			val = string(v)
		}
	}
	m[key] = val
	return nil
}
