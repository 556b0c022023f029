package httpbroker

import (
	"bytes"
	"math/rand/v2"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/host/component"
)

// RouteWire is Route on a BrokerRouteRequest record (abi/broker.md), answering with the
// BrokerRoutes record appended to dst, as component.HandleBroker does for "route", but
// without decoding the record into services, nodes and metadata maps: in the Wasm plugin
// those allocations cost most of a route (RATIONALE.md, "The broker module reads its records
// where they lie"). It reads every field Route's decoder reads, so it finds the same faults; for
// a record that is not well formed it reports ok false and leaves the answer, with its
// error, to component.HandleBroker. A well-formed record gets Route's answer, byte for byte.
func RouteWire(dst, in []byte) (out []byte, ok bool, err error) {
	// Room for the nodes of a typical answer, and for the output, up front: in Wasm each
	// allocation costs more than the reading.
	var nodeBuf, groupBuf [16]wireNode
	var versionBuf [8][]byte
	r := wireRoute{nodes: nodeBuf[:0]}
	if !r.read(in) {
		return dst, false, nil
	}
	topic := string(r.topic)
	if err := checkTopic(topic); err != nil {
		return dst, true, err
	}
	// The nodes for the topic, grouped by version as Route groups them: each group in the
	// order the record lists its nodes, then sorted by id with the same sort, so that among
	// nodes of one id the same one is kept.
	nodes := r.nodes[:0]
	versions := versionBuf[:0]
	for _, n := range r.nodes {
		if bytes.Equal(n.topic, r.topic) {
			nodes = append(nodes, n)
			if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, n.version) }) {
				versions = append(versions, n.version)
			}
		}
	}
	slices.SortFunc(versions, bytes.Compare)
	var rng *rand.Rand // made at the first queue group: broadcast alone draws nothing
	out = slices.Grow(dst, 64+len(in)/2)
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	out = protowire.AppendString(out, ContentType)
	group := groupBuf[:0]
	for _, v := range versions {
		group = group[:0]
		for _, n := range nodes {
			if bytes.Equal(n.version, v) {
				group = append(group, n)
			}
		}
		slices.SortFunc(group, func(a, b wireNode) int { return bytes.Compare(a.id, b.id) })
		group = slices.CompactFunc(group, func(a, b wireNode) bool { return bytes.Equal(a.id, b.id) })
		chosen := group
		if string(v) != BroadcastVersion {
			if rng == nil {
				rng = routeRand(r.seed)
			}
			i := rng.IntN(len(group))
			chosen = group[i : i+1]
		}
		for _, n := range chosen {
			out = appendWireTarget(out, n)
		}
	}
	return out, true, nil
}

// wireNode is a subscriber node as RouteWire reads it: slices of the record, and of its
// metadata the values Route looks at (the last of each key; absent is empty, as in a map).
type wireNode struct {
	version, id, address []byte
	topic, secure        []byte
}

// wireRoute is what RouteWire reads of a BrokerRouteRequest: the topic and seed (the last of
// each), and the nodes of the HTTP broker's services with broker=http and an address.
type wireRoute struct {
	topic []byte
	seed  uint64
	nodes []wireNode
}

// read reads the record b, reporting false where component.UnmarshalBrokerRouteRequest
// fails.
func (r *wireRoute) read(b []byte) bool {
	return eachWireField(b, func(num protowire.Number, typ protowire.Type, v []byte) bool {
		switch {
		case num == 1 && typ == protowire.BytesType:
			r.topic = v
		case num == 2 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return false
			}
			r.seed = x
		case num == 3 && typ == protowire.BytesType:
			return r.readService(v)
		}
		return true
	})
}

// readService reads one service record, keeping its nodes when it is the HTTP broker's. The
// name and version may follow the nodes, so they are judged once it is read.
func (r *wireRoute) readService(b []byte) bool {
	first := len(r.nodes)
	var name, version []byte
	ok := eachWireField(b, func(num protowire.Number, typ protowire.Type, v []byte) bool {
		if typ != protowire.BytesType {
			return true
		}
		switch num {
		case 1:
			name = v
		case 2:
			version = v
		case 3:
			n, broker, ok := readWireNode(v)
			if ok && string(broker) == "http" && len(n.address) > 0 {
				r.nodes = append(r.nodes, n)
			}
			return ok
		}
		return true
	})
	if !ok || string(name) != ServiceName {
		r.nodes = r.nodes[:first]
		return ok
	}
	for i := first; i < len(r.nodes); i++ {
		r.nodes[i].version = version
	}
	return true
}

// readWireNode reads one node record: its id, address and the metadata Route looks at,
// the broker's name apart.
func readWireNode(b []byte) (n wireNode, broker []byte, ok bool) {
	ok = eachWireField(b, func(num protowire.Number, typ protowire.Type, v []byte) bool {
		if typ != protowire.BytesType {
			return true
		}
		switch num {
		case 1:
			n.id = v
		case 2:
			n.address = v
		case 3:
			return readWireEntry(v, func(k, v []byte) {
				switch string(k) {
				case MetaBroker:
					broker = v
				case MetaTopic:
					n.topic = v
				case MetaSecure:
					n.secure = v
				}
			})
		}
		return true
	})
	return n, broker, ok
}

// readWireEntry reads a map<string, string> entry and passes its key and value (empty when
// absent) to f.
func readWireEntry(b []byte, f func(k, v []byte)) bool {
	var k, v []byte
	ok := eachWireField(b, func(num protowire.Number, typ protowire.Type, x []byte) bool {
		if typ == protowire.BytesType {
			switch num {
			case 1:
				k = x
			case 2:
				v = x
			}
		}
		return true
	})
	if ok {
		f(k, v)
	}
	return ok
}

// eachWireField calls f with each field of the record b, as the host's record decoders walk
// one, and reports false where they fail: a malformed tag or value, or f's false.
func eachWireField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) bool) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 {
				v = b[:n]
			}
		}
		if n < 0 || !f(num, typ, v) {
			return false
		}
		b = b[n:]
	}
	return true
}

// appendWireTarget appends the BrokerRoutes target of n (field 2), as
// component.AppendBrokerRoutes writes Route's target(n). An address and id that URLs carry
// as they are (nearly all: host:port and plain ids) are written without building the URL
// first.
func appendWireTarget(dst []byte, n wireNode) []byte {
	scheme := "http"
	if string(n.secure) == "true" {
		scheme = "https"
	}
	if !plainInURL(n.address, true) || !plainInURL(n.id, false) {
		return component.AppendBrokerRoutes(dst, &Routes{Targets: []Target{targetOf(string(n.id), string(n.address), scheme == "https")}})
	}
	urlLen := len(scheme) + len("://") + len(n.address) + len("/?id=") + len(n.id)
	size := wireBytesLen(1, len(n.id)) + wireBytesLen(2, len(n.address)) + wireBytesLen(3, urlLen)
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	if len(n.id) > 0 {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, n.id)
	}
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	dst = protowire.AppendBytes(dst, n.address)
	dst = protowire.AppendTag(dst, 3, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(urlLen))
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, n.address...)
	dst = append(dst, "/?id="...)
	return append(dst, n.id...)
}

// plainInURL reports whether net/url writes b unchanged: as a host (letters, digits, "-._~",
// and the ":[]" of a port and an IPv6 address) or as a query value (letters, digits and
// "-._~").
func plainInURL(b []byte, host bool) bool {
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		case host && (c == ':' || c == '[' || c == ']'):
		default:
			return false
		}
	}
	return true
}

func wireBytesLen(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// EncodeWire is Encode on a BrokerMessage record, answering with the BrokerEncoded record
// appended to dst, as component.HandleBroker does for "encode", without decoding the header
// into a map: the broker module's encode. Like RouteWire, it leaves a record that is not
// well formed to component.HandleBroker (ok false), and answers any other as Encode does,
// byte for byte.
func EncodeWire(dst, in []byte) (out []byte, ok bool, err error) {
	var pairBuf [16]wirePair
	pairs := pairBuf[:0]
	var topic, body []byte
	ok = eachWireField(in, func(num protowire.Number, typ protowire.Type, v []byte) bool {
		if typ != protowire.BytesType {
			return true
		}
		switch num {
		case 1:
			topic = v
		case 2:
			return readWireEntry(v, func(k, v []byte) { pairs = append(pairs, wirePair{k, v}) })
		case 3:
			body = v
		}
		return true
	})
	if !ok {
		return dst, false, nil
	}
	if err := checkTopic(string(topic)); err != nil {
		return dst, true, err
	}
	// The header as Encode's map holds it: the last value of each key, with Micro-Topic the
	// topic, in the order of the keys.
	pairs = append(pairs, wirePair{[]byte(HeaderTopic), topic})
	slices.SortStableFunc(pairs, func(a, b wirePair) int { return bytes.Compare(a.k, b.k) })
	if len(body) == 0 {
		body = nil
	}
	// The record holds every key, value and body byte; base64 adds a third to the body.
	wire := appendWireOf(make([]byte, 0, len(in)+len(in)/3+32), func(dst []byte) []byte {
		return appendStringObject(dst, func(yield func(k, v string) bool) {
			for i, p := range pairs {
				if i+1 < len(pairs) && bytes.Equal(p.k, pairs[i+1].k) {
					continue // a later value of the key counts
				}
				if !yield(string(p.k), string(p.v)) {
					return
				}
			}
		})
	}, body)
	out = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendBytes(out, wire), true, nil
}

// wirePair is a header entry of a record: slices of it.
type wirePair struct{ k, v []byte }
