package component

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
)

// The protobuf encoding of the broker records (abi/proto/broker.proto), written by hand:
// publication is a hot path, and these functions are shared by the host's adapter and the
// broker modules built from Go. Each Append function writes what proto.Marshal writes with
// deterministic output (fields in number order, zero scalars left out, map entries sorted by
// key with both key and value written); each Unmarshal function accepts what proto.Unmarshal
// accepts, skipping unknown fields, except that strings are not checked to be UTF-8.

// AppendBrokerMessage appends the BrokerMessage record of m.
func AppendBrokerMessage(dst []byte, m *BrokerMessage) []byte {
	dst = appendString(dst, 1, m.Topic)
	dst = appendStringMap(dst, 2, m.Header)
	return appendBytesField(dst, 3, m.Body)
}

// UnmarshalBrokerMessage decodes a BrokerMessage record.
func UnmarshalBrokerMessage(b []byte) (*BrokerMessage, error) {
	m := new(BrokerMessage)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			m.Topic = string(v)
		case num == 2 && typ == protowire.BytesType:
			return decodeMapEntry(&m.Header, v)
		case num == 3 && typ == protowire.BytesType:
			m.Body = bytesOrNil(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerMessage: %w", err)
	}
	return m, nil
}

// AppendBrokerEncoded appends the BrokerEncoded record of a delivery body.
func AppendBrokerEncoded(dst, body []byte) []byte {
	return appendBytesField(dst, 1, body)
}

// UnmarshalBrokerEncoded decodes a BrokerEncoded record and returns the delivery body.
func UnmarshalBrokerEncoded(b []byte) ([]byte, error) {
	var body []byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num == 1 && typ == protowire.BytesType {
			body = bytesOrNil(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerEncoded: %w", err)
	}
	return body, nil
}

// AppendBrokerParseRequest appends the BrokerParseRequest record of r.
func AppendBrokerParseRequest(dst []byte, r *BrokerParseRequest) []byte {
	dst = appendString(dst, 1, r.Method)
	dst = appendString(dst, 2, r.Query)
	dst = appendString(dst, 3, r.ContentType)
	return appendBytesField(dst, 4, r.Body)
}

// UnmarshalBrokerParseRequest decodes a BrokerParseRequest record.
func UnmarshalBrokerParseRequest(b []byte) (*BrokerParseRequest, error) {
	r := new(BrokerParseRequest)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			r.Method = string(v)
		case 2:
			r.Query = string(v)
		case 3:
			r.ContentType = string(v)
		case 4:
			r.Body = bytesOrNil(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerParseRequest: %w", err)
	}
	return r, nil
}

// AppendBrokerDelivery appends the BrokerDelivery record of d.
func AppendBrokerDelivery(dst []byte, d *BrokerDelivery) []byte {
	dst = appendString(dst, 1, d.ID)
	dst = appendString(dst, 2, d.Topic)
	dst = appendStringMap(dst, 3, d.Header)
	return appendBytesField(dst, 4, d.Body)
}

// UnmarshalBrokerDelivery decodes a BrokerDelivery record.
func UnmarshalBrokerDelivery(b []byte) (*BrokerDelivery, error) {
	d := new(BrokerDelivery)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			d.ID = string(v)
		case 2:
			d.Topic = string(v)
		case 3:
			return decodeMapEntry(&d.Header, v)
		case 4:
			d.Body = bytesOrNil(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerDelivery: %w", err)
	}
	return d, nil
}

// AppendBrokerRouteRequest appends the BrokerRouteRequest record of r. Of each service it
// writes the name, the version and the nodes (id, address, metadata); nil services are left
// out.
func AppendBrokerRouteRequest(dst []byte, r *BrokerRouteRequest) []byte {
	dst = appendString(dst, 1, r.Topic)
	if r.Seed != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, r.Seed)
	}
	for _, s := range r.Services {
		if s == nil {
			continue
		}
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(serviceLen(s)))
		dst = appendString(dst, 1, s.Name)
		dst = appendString(dst, 2, s.Version)
		for i := range s.Nodes {
			n := &s.Nodes[i]
			dst = protowire.AppendTag(dst, 3, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(nodeLen(n)))
			dst = appendString(dst, 1, n.ID)
			dst = appendString(dst, 2, n.Address)
			dst = appendStringMap(dst, 3, n.Metadata)
		}
	}
	return dst
}

// UnmarshalBrokerRouteRequest decodes a BrokerRouteRequest record.
func UnmarshalBrokerRouteRequest(b []byte) (*BrokerRouteRequest, error) {
	r := new(BrokerRouteRequest)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			r.Topic = string(v)
		case num == 2 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return envelope.WireError(n)
			}
			r.Seed = x
		case num == 3 && typ == protowire.BytesType:
			s, err := decodeService(v)
			if err != nil {
				return fmt.Errorf("services: %w", err)
			}
			r.Services = append(r.Services, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerRouteRequest: %w", err)
	}
	return r, nil
}

func decodeService(b []byte) (*abi.Service, error) {
	s := new(abi.Service)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			s.Name = string(v)
		case 2:
			s.Version = string(v)
		case 3:
			var n abi.Node
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case 1:
					n.ID = string(v)
				case 2:
					n.Address = string(v)
				case 3:
					return decodeMapEntry(&n.Metadata, v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("nodes: %w", err)
			}
			s.Nodes = append(s.Nodes, n)
		}
		return nil
	})
	return s, err
}

func serviceLen(s *abi.Service) int {
	n := stringLen(1, s.Name) + stringLen(1, s.Version)
	for i := range s.Nodes {
		n += messageLen(3, nodeLen(&s.Nodes[i]))
	}
	return n
}

func nodeLen(n *abi.Node) int {
	return stringLen(1, n.ID) + stringLen(2, n.Address) + stringMapLen(3, n.Metadata)
}

// AppendBrokerRoutes appends the BrokerRoutes record of r.
func AppendBrokerRoutes(dst []byte, r *BrokerRoutes) []byte {
	dst = appendString(dst, 1, r.ContentType)
	for i := range r.Targets {
		t := &r.Targets[i]
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(stringLen(1, t.ID)+stringLen(2, t.Address)+stringLen(3, t.URL)))
		dst = appendString(dst, 1, t.ID)
		dst = appendString(dst, 2, t.Address)
		dst = appendString(dst, 3, t.URL)
	}
	return dst
}

// UnmarshalBrokerRoutes decodes a BrokerRoutes record. Targets is never nil.
func UnmarshalBrokerRoutes(b []byte) (*BrokerRoutes, error) {
	r := &BrokerRoutes{Targets: []BrokerTarget{}}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			r.ContentType = string(v)
		case 2:
			var t BrokerTarget
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case 1:
					t.ID = string(v)
				case 2:
					t.Address = string(v)
				case 3:
					t.URL = string(v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("targets: %w", err)
			}
			r.Targets = append(r.Targets, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("BrokerRoutes: %w", err)
	}
	return r, nil
}

// Encoding helpers.

func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func appendBytesField(dst []byte, num protowire.Number, b []byte) []byte {
	if len(b) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}

// appendStringMap appends a map<string, string> field: one entry per key, in key order, each
// with its key (1) and value (2) written even when empty, as proto.Marshal does.
func appendStringMap(dst []byte, num protowire.Number, m map[string]string) []byte {
	if len(m) == 0 {
		return dst
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(entryLen(k, v)))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, k)
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendString(dst, v)
	}
	return dst
}

func entryLen(k, v string) int {
	return 2 + protowire.SizeBytes(len(k)) + protowire.SizeBytes(len(v))
}

func stringLen(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func messageLen(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func stringMapLen(num protowire.Number, m map[string]string) int {
	n := 0
	for k, v := range m {
		n += messageLen(num, entryLen(k, v))
	}
	return n
}

// Decoding helpers.

// eachField passes each field of the record b to f: its number, its wire type and, for a
// length-delimited field its content, for a varint its encoding. Unknown fields are passed
// too; f ignores them.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return envelope.WireError(n)
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 {
				v = b[:n]
			}
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, envelope.WireError(n))
		}
		b = b[n:]
		if err := f(num, typ, v); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
	}
	return nil
}

// decodeMapEntry adds one map<string, string> entry to *m; a missing key or value is "".
func decodeMapEntry(m *map[string]string, b []byte) error {
	var k, v string
	err := eachField(b, func(num protowire.Number, typ protowire.Type, x []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			k = string(x)
		case 2:
			v = string(x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
	return nil
}

// bytesOrNil copies b; empty is nil, as an absent field is.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}
