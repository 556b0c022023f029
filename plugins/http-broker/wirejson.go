package httpbroker

// The JSON of the protocol's fixed schemas, written and read by hand. In the Wasm plugin,
// encoding/json's reflection costs 50–100× its native time; these functions give the bytes
// json.Marshal gives and accept what a json.Decoder with DisallowUnknownFields accepts (see
// RATIONALE.md, "The broker protocol encodes its JSON by hand").

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/microhost/microhost/abi"
	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
)

// appendWire appends the delivery body of header and body: Go Micro's broker.Message as
// json.Marshal writes it, struct{Header map[string]string; Body []byte}.
func appendWire(dst []byte, header map[string]string, body []byte) []byte {
	dst = append(dst, `{"Header":`...)
	dst = appendHeader(dst, header)
	dst = append(dst, `,"Body":`...)
	dst = appendBytes(dst, body)
	return append(dst, '}')
}

// appendDelivery appends d as json.Marshal writes it.
func appendDelivery(dst []byte, d *Delivery) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsoncodec.AppendMarshaledString(dst, d.ID)
	dst = append(dst, `,"topic":`...)
	dst = jsoncodec.AppendMarshaledString(dst, d.Topic)
	dst = append(dst, `,"header":`...)
	dst = appendHeader(dst, d.Header)
	dst = append(dst, `,"body":`...)
	dst = appendBytes(dst, d.Body)
	return append(dst, '}')
}

// appendRoutes appends r as json.Marshal writes it.
func appendRoutes(dst []byte, r *Routes) []byte {
	dst = append(dst, `{"content_type":`...)
	dst = jsoncodec.AppendMarshaledString(dst, r.ContentType)
	dst = append(dst, `,"targets":`...)
	if r.Targets == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, t := range r.Targets {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = jsoncodec.AppendMarshaledString(dst, t.ID)
			dst = append(dst, `,"address":`...)
			dst = jsoncodec.AppendMarshaledString(dst, t.Address)
			dst = append(dst, `,"url":`...)
			dst = jsoncodec.AppendMarshaledString(dst, t.URL)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendHeader appends h as json.Marshal writes a map[string]string: null for nil, else an
// object with its keys sorted.
func appendHeader(dst []byte, h map[string]string) []byte {
	if h == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i, k := range slices.Sorted(maps.Keys(h)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsoncodec.AppendMarshaledString(dst, k)
		dst = append(dst, ':')
		dst = jsoncodec.AppendMarshaledString(dst, h[k])
	}
	return append(dst, '}')
}

// appendBytes appends b as json.Marshal writes a []byte: null for nil, else a string of its
// standard base64 encoding.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// wireLen estimates the length of the delivery body of header and body.
func wireLen(header map[string]string, body []byte) int {
	n := len(`{"Header":{},"Body":""}`) + base64.StdEncoding.EncodedLen(len(body))
	for k, v := range header {
		n += len(k) + len(v) + len(`"":"",`)
	}
	return n
}

// decodeWire decodes a delivery body as a json.Decoder with DisallowUnknownFields decodes it
// into the struct appendWire writes, with nothing but white space after the value.
func decodeWire(b []byte) (header map[string]string, body []byte, err error) {
	err = decodeDocument(b, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "Header"):
			return decodeHeader(&header, value)
		case jsoncodec.FieldIs(key, "Body"):
			return decodeBytes(&body, value)
		}
		return unknownField(key)
	})
	return header, body, err
}

// decodeMessage decodes the input of the encode operation into msg, as decodeWire does.
func decodeMessage(b []byte, msg *Message) error {
	return decodeDocument(b, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "topic"):
			return decodeString(&msg.Topic, value)
		case jsoncodec.FieldIs(key, "header"):
			return decodeHeader(&msg.Header, value)
		case jsoncodec.FieldIs(key, "body"):
			return decodeBytes(&msg.Body, value)
		}
		return unknownField(key)
	})
}

// decodeDocument checks that b is one JSON value with nothing after it but white space, and
// passes each member of that object to member, in order: like encoding/json, a later member
// of the same name overrides an earlier one, and a null document leaves everything unset.
// Any other value is an error.
func decodeDocument(b []byte, member func(key, value []byte) error) error {
	start := jsoncodec.SkipSpace(b, 0)
	var end int
	var err error
	if start < len(b) && b[start] == '{' {
		// The object reader checks the syntax of all it reads: no need to check it twice.
		end, err = readObject(b, start, member)
	} else if end, err = jsoncodec.SkipValue(b, start); err == nil && b[start] != 'n' {
		err = typeError(b[start:end], "an object")
	}
	if err != nil {
		return err
	}
	if i := jsoncodec.SkipSpace(b, end); i != len(b) {
		return fmt.Errorf("invalid character %q after the value", b[i])
	}
	return nil
}

// decodeObject passes each member of the checked JSON value v to member; null has none, and a
// value that is not an object is an error.
func decodeObject(v []byte, member func(key, value []byte) error) error {
	switch v[0] {
	case 'n':
		return nil
	case '{':
		_, err := readObject(v, 0, member)
		return err
	}
	return typeError(v, "an object")
}

// readObject passes each member of the object that starts at b[i] to member, and returns the
// index just past the object.
func readObject(b []byte, i int, member func(key, value []byte) error) (int, error) {
	r, err := jsoncodec.NewObjectReader(b, i)
	if err != nil {
		return i, err
	}
	for {
		key, value, ok, err := r.Next()
		if err != nil || !ok {
			return r.Offset(), err
		}
		if err := member(key, value); err != nil {
			return r.Offset(), err
		}
	}
}

// decodeString decodes the checked JSON value v into *dst as encoding/json decodes a string:
// null leaves it unchanged.
func decodeString(dst *string, v []byte) error {
	switch v[0] {
	case 'n':
		return nil
	case '"':
		var err error
		*dst, err = unquote(v)
		return err
	}
	return typeError(v, "a string")
}

// unquote returns the content of the JSON string literal v as encoding/json decodes it.
func unquote(v []byte) (string, error) {
	var buf [128]byte
	s, err := jsoncodec.AppendUnmarshaledString(buf[:0], v)
	return string(s), err
}

// decodeHeader decodes the checked JSON value v into *dst as encoding/json decodes a
// map[string]string: null sets it to nil, and an object's members are added to the map it
// already holds; a null member value is the empty string.
func decodeHeader(dst *map[string]string, v []byte) error {
	if v[0] == 'n' {
		*dst = nil
		return nil
	}
	if v[0] == '{' && *dst == nil {
		*dst = map[string]string{}
	}
	return decodeObject(v, func(key, value []byte) error {
		k, err := unquote(key)
		if err != nil {
			return err
		}
		var s string
		if err := decodeString(&s, value); err != nil {
			return err
		}
		(*dst)[k] = s
		return nil
	})
}

// decodeBytes decodes the checked JSON value v into *dst as encoding/json decodes a []byte:
// null sets it to nil, a string is standard base64, and an array holds the bytes as numbers.
func decodeBytes(dst *[]byte, v []byte) error {
	switch v[0] {
	case 'n':
		*dst = nil
		return nil
	case '"':
		s, err := jsoncodec.AppendUnmarshaledString(nil, v)
		if err != nil {
			return err
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		if err != nil {
			return err
		}
		*dst = b[:n]
		return nil
	}
	return decodeSlice(dst, v, "a base64 string", decodeByte)
}

// decodeSlice decodes the checked JSON value v into *dst as encoding/json decodes a slice:
// null sets it to nil, and an array's elements are decoded by elem into the slice's storage
// as it stands, so an element keeps what that storage held where elem leaves it (for a null
// element, say); an empty array gives an empty, non-nil slice. Any other value is an error
// that names what, the type expected.
func decodeSlice[T any](dst *[]T, v []byte, what string, elem func(*T, []byte) error) error {
	switch v[0] {
	case 'n':
		*dst = nil
		return nil
	case '[':
	default:
		return typeError(v, what)
	}
	r, err := jsoncodec.NewArrayReader(v, 0)
	if err != nil {
		return err
	}
	s, i := *dst, 0
	for ; ; i++ {
		e, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if i >= cap(s) {
			s = slices.Grow(s, 1)
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		if err := elem(&s[i], e); err != nil {
			return err
		}
	}
	if i == 0 {
		s = []T{}
	}
	*dst = s[:i]
	return nil
}

// decodeByte decodes the checked JSON value v into *dst as encoding/json decodes a byte: a
// number 0–255 with no fraction or exponent; null leaves it unchanged.
func decodeByte(dst *byte, v []byte) error {
	n, err := decodeUint(v, 8)
	if err == nil && v[0] != 'n' {
		*dst = byte(n)
	}
	return err
}

// decodeUint64 decodes the checked JSON value v into *dst as encoding/json decodes a uint64;
// null leaves it unchanged.
func decodeUint64(dst *uint64, v []byte) error {
	n, err := decodeUint(v, 64)
	if err == nil && v[0] != 'n' {
		*dst = n
	}
	return err
}

// decodeUint parses the checked JSON value v as an unsigned integer of bits bits; null is 0.
func decodeUint(v []byte, bits int) (uint64, error) {
	if v[0] == 'n' {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(v), 10, bits)
	if err != nil {
		return 0, typeError(v, "uint"+strconv.Itoa(bits))
	}
	return n, nil
}

// decodeRouteRequest decodes the input of the route operation into req, as decodeWire does.
func decodeRouteRequest(b []byte, req *RouteRequest) error {
	return decodeDocument(b, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "topic"):
			return decodeString(&req.Topic, value)
		case jsoncodec.FieldIs(key, "seed"):
			return decodeUint64(&req.Seed, value)
		case jsoncodec.FieldIs(key, "services"):
			return decodeSlice(&req.Services, value, "an array of services", decodeServicePtr)
		}
		return unknownField(key)
	})
}

// decodeServicePtr decodes a service record into *dst, as encoding/json decodes into a
// pointer: null sets it to nil, and a value is decoded into the record it points to, new if
// there is none.
func decodeServicePtr(dst **abi.Service, v []byte) error {
	if v[0] == 'n' {
		*dst = nil
		return nil
	}
	if *dst == nil {
		*dst = new(abi.Service)
	}
	return decodeService(*dst, v)
}

// decodeService decodes a service record into svc, as encoding/json decodes an abi.Service
// with unknown fields refused.
func decodeService(svc *abi.Service, v []byte) error {
	return decodeObject(v, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "name"):
			return decodeString(&svc.Name, value)
		case jsoncodec.FieldIs(key, "version"):
			return decodeString(&svc.Version, value)
		case jsoncodec.FieldIs(key, "metadata"):
			return decodeHeader(&svc.Metadata, value)
		case jsoncodec.FieldIs(key, "endpoints"):
			return decodeSlice(&svc.Endpoints, value, "an array of endpoints", decodeEndpoint)
		case jsoncodec.FieldIs(key, "nodes"):
			return decodeSlice(&svc.Nodes, value, "an array of nodes", decodeNode)
		}
		return unknownField(key)
	})
}

// decodeEndpoint decodes an endpoint record into ep, as encoding/json decodes an
// abi.Endpoint with unknown fields refused.
func decodeEndpoint(ep *abi.Endpoint, v []byte) error {
	return decodeObject(v, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "name"):
			return decodeString(&ep.Name, value)
		case jsoncodec.FieldIs(key, "request"):
			return decodeString(&ep.Request, value)
		case jsoncodec.FieldIs(key, "response"):
			return decodeString(&ep.Response, value)
		case jsoncodec.FieldIs(key, "metadata"):
			return decodeHeader(&ep.Metadata, value)
		}
		return unknownField(key)
	})
}

// decodeNode decodes a node record into n, as encoding/json decodes an abi.Node with unknown
// fields refused.
func decodeNode(n *abi.Node, v []byte) error {
	return decodeObject(v, func(key, value []byte) error {
		switch {
		case jsoncodec.FieldIs(key, "id"):
			return decodeString(&n.ID, value)
		case jsoncodec.FieldIs(key, "address"):
			return decodeString(&n.Address, value)
		case jsoncodec.FieldIs(key, "metadata"):
			return decodeHeader(&n.Metadata, value)
		}
		return unknownField(key)
	})
}

func typeError(v []byte, want string) error {
	return fmt.Errorf("json: cannot decode %.20q into %s", v, want)
}

func unknownField(key []byte) error {
	k, _ := unquote(key)
	return fmt.Errorf("json: unknown field %q", k)
}
