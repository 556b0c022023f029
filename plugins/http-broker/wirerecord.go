package httpbroker

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi/jsonstr"
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
	topicBytes, seed, all, ok := readWireRoute(in, nodeBuf[:0])
	if !ok {
		return dst, false, nil
	}
	if err := checkTopic(topicBytes); err != nil {
		return dst, true, err
	}
	// The nodes for the topic, grouped by version as Route groups them: each group in the
	// order the record lists its nodes, then sorted by id with the same sort, so that among
	// nodes of one id the same one is kept.
	nodes := all[:0]
	versions := versionBuf[:0]
	for _, n := range all {
		if bytes.Equal(n.topic, topicBytes) {
			nodes = append(nodes, n)
			if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, n.version) }) {
				versions = append(versions, n.version)
			}
		}
	}
	slices.SortFunc(versions, bytes.Compare)
	// Route's random source (routeRand), seeded at the first queue group: broadcast alone
	// draws nothing.
	var pcg rand.PCG
	seeded := false
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
			if !seeded {
				pcg.Seed(routeSeeds(seed))
				seeded = true
			}
			i := intN(&pcg, len(group))
			chosen = group[i : i+1]
		}
		for _, n := range chosen {
			out = appendWireTarget(out, n)
		}
	}
	return out, true, nil
}

// intN is rand.New(src).IntN(n), n > 0, drawing from src as it does on a 64-bit platform,
// Wasm among them (Lemire's method: the high word of a draw times n, drawn again in the rare
// case the low word shows a bias), with no Rand to allocate: the interface it holds its
// source in would move src to the heap.
func intN(src *rand.PCG, n int) int {
	m := uint64(n)
	if m&(m-1) == 0 {
		return int(src.Uint64() & (m - 1))
	}
	hi, lo := bits.Mul64(src.Uint64(), m)
	if lo < m {
		for bias := -m % m; lo < bias; {
			hi, lo = bits.Mul64(src.Uint64(), m)
		}
	}
	return int(hi)
}

// wireNode is a subscriber node as RouteWire reads it: slices of the record, and of its
// metadata the values Route looks at (the last of each key; absent is empty, as in a map).
type wireNode struct {
	version, id, address []byte
	topic, secure        []byte
}

// readWireRoute reads what RouteWire needs of a BrokerRouteRequest record: the topic and
// seed (the last of each), and, appended to nodes, the nodes of the HTTP broker's services
// with broker=http and an address. It reports false where
// component.UnmarshalBrokerRouteRequest fails. The nodes are passed and returned, not kept
// in a struct behind a pointer, so that a caller's array stays on its stack.
func readWireRoute(b []byte, nodes []wireNode) (topic []byte, seed uint64, _ []wireNode, ok bool) {
	f := wireFields{b: b}
	for num, typ, v, more := f.next(); more; num, typ, v, more = f.next() {
		switch {
		case num == 1 && typ == protowire.BytesType:
			topic = v
		case num == 2 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return nil, 0, nodes, false
			}
			seed = x
		case num == 3 && typ == protowire.BytesType:
			if nodes, ok = readWireService(v, nodes); !ok {
				return nil, 0, nodes, false
			}
		}
	}
	return topic, seed, nodes, !f.bad
}

// readWireService reads one service record, appending its nodes to nodes when it is the
// HTTP broker's. The name and version may follow the nodes, so they are judged once it is
// read.
func readWireService(b []byte, nodes []wireNode) ([]wireNode, bool) {
	first := len(nodes)
	var name, version []byte
	f := wireFields{b: b, bytesOnly: true}
	for num, _, v, more := f.next(); more; num, _, v, more = f.next() {
		switch num {
		case 1:
			name = v
		case 2:
			version = v
		case 3:
			n, broker, ok := readWireNode(v)
			if !ok {
				return nodes[:first], false
			}
			if string(broker) == "http" && len(n.address) > 0 {
				nodes = append(nodes, n)
			}
		}
	}
	if f.bad || string(name) != ServiceName {
		return nodes[:first], !f.bad
	}
	for i := first; i < len(nodes); i++ {
		nodes[i].version = version
	}
	return nodes, true
}

// readWireNode reads one node record: its id, address and the metadata Route looks at,
// the broker's name apart.
func readWireNode(b []byte) (n wireNode, broker []byte, ok bool) {
	f := wireFields{b: b, bytesOnly: true}
	for num, _, v, more := f.next(); more; num, _, v, more = f.next() {
		switch num {
		case 1:
			n.id = v
		case 2:
			n.address = v
		case 3:
			key, value, ok := readWireEntry(v)
			if !ok {
				return n, nil, false
			}
			switch string(key) {
			case MetaBroker:
				broker = value
			case MetaTopic:
				n.topic = value
			case MetaSecure:
				n.secure = value
			}
		}
	}
	return n, broker, !f.bad
}

// readWireEntry reads a map<string, string> entry: its key and value, empty when absent.
func readWireEntry(b []byte) (k, v []byte, ok bool) {
	f := wireFields{b: b, bytesOnly: true}
	for num, _, x, more := f.next(); more; num, _, x, more = f.next() {
		switch num {
		case 1:
			k = x
		case 2:
			v = x
		}
	}
	return k, v, !f.bad
}

// wireFields walks the fields of a record as the host's record decoders walk one.
type wireFields struct {
	b []byte
	// bytesOnly has next pass over the fields that are not length-delimited (every field
	// the broker's records read is, but a route's seed).
	bytesOnly bool
	bad       bool // a malformed tag or value ended the walk
}

// next returns the record's next field, and false at its end or at a malformed tag or
// value, which sets bad.
func (f *wireFields) next() (num protowire.Number, typ protowire.Type, v []byte, ok bool) {
	for len(f.b) > 0 {
		num, typ, n := protowire.ConsumeTag(f.b)
		if n < 0 {
			break
		}
		b := f.b[n:]
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else if n = protowire.ConsumeFieldValue(num, typ, b); n >= 0 {
			v = b[:n]
		}
		if n < 0 {
			break
		}
		f.b = b[n:]
		if !f.bytesOnly || typ == protowire.BytesType {
			return num, typ, v, true
		}
	}
	f.bad = len(f.b) > 0
	return 0, 0, nil, false
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
	f := wireFields{b: in, bytesOnly: true}
	for num, _, v, more := f.next(); more; num, _, v, more = f.next() {
		switch num {
		case 1:
			topic = v
		case 2:
			k, v, ok := readWireEntry(v)
			if !ok {
				return dst, false, nil
			}
			pairs = append(pairs, wirePair{k, v})
		case 3:
			body = v
		}
	}
	if f.bad {
		return dst, false, nil
	}
	if err := checkTopic(topic); err != nil {
		return dst, true, err
	}
	// The header as Encode's map holds it: the last value of each key, with Micro-Topic the
	// topic (written at its place among the keys below), in the order of the keys.
	slices.SortStableFunc(pairs, func(a, b wirePair) int { return bytes.Compare(a.k, b.k) })
	if len(body) == 0 {
		body = nil
	}
	// The delivery body is written in place after the record's tag, then moved to make room
	// for its length where that takes more than the one byte reserved.
	// The record holds every key, value and body byte; base64 adds a third to the body.
	out = slices.Grow(dst, len(in)+len(in)/3+48)
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	at := len(out) + 1
	out = append(out, 0)
	out = append(out, wireHead...)
	out = append(out, '{')
	topicAt := len(pairs) // the pair the topic is written before
	for i, p := range pairs {
		if string(p.k) > HeaderTopic {
			topicAt = i
			break
		}
	}
	first := true
	for i, p := range pairs {
		if i == topicAt {
			out = appendTopicMember(out, first, topic)
			first = false
		}
		if string(p.k) == HeaderTopic || i+1 < len(pairs) && bytes.Equal(p.k, pairs[i+1].k) {
			continue // the topic, or a later value of the key, counts
		}
		out = appendWireMember(out, first, p.k, p.v)
		first = false
	}
	if topicAt == len(pairs) {
		out = appendTopicMember(out, first, topic)
	}
	out = appendWireTail(append(out, '}'), body)
	n := len(out) - at
	if size := protowire.SizeVarint(uint64(n)); size > 1 {
		out = slices.Grow(out, size-1)[:len(out)+size-1]
		copy(out[at+size-1:], out[at:at+n])
	}
	protowire.AppendVarint(out[:at-1], uint64(n))
	return out, true, nil
}

// appendWireMember appends the member k: v of a JSON object of strings, escaped as
// json.Marshal escapes them, after a comma unless it is the object's first.
func appendWireMember(dst []byte, first bool, k, v []byte) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = jsonstr.AppendMarshaledBytes(dst, k)
	dst = append(dst, ':')
	return jsonstr.AppendMarshaledBytes(dst, v)
}

// appendTopicMember appends the Micro-Topic member of a delivery's header, whose value is
// topic, after a comma unless it is the header's first.
func appendTopicMember(dst []byte, first bool, topic []byte) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `"`+HeaderTopic+`":`...)
	return jsonstr.AppendMarshaledBytes(dst, topic)
}

// wirePair is a header entry of a record: slices of it.
type wirePair struct{ k, v []byte }
