package httpbroker

// The JSON of Go Micro's wire format (the delivery body), written and read by hand. In the Wasm plugin,
// encoding/json's reflection costs 50–100× its native time; these functions give the bytes
// json.Marshal gives and accept what a json.Decoder with DisallowUnknownFields accepts (see
// RATIONALE.md, "The broker protocol encodes its JSON by hand").

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"

	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
)

// appendWire appends the delivery body of header and body: Go Micro's broker.Message as
// json.Marshal writes it, struct{Header map[string]string; Body []byte}.
func appendWire(dst []byte, header map[string]string, body []byte) []byte {
	dst = appendHeader(append(dst, wireHead...), header)
	return appendWireTail(dst, body)
}

// wireHead opens a delivery body, before its header.
const wireHead = `{"Header":`

// appendWireTail closes a delivery body after its header: the body, and the end.
func appendWireTail(dst, body []byte) []byte {
	dst = append(dst, `,"Body":`...)
	dst = appendBytes(dst, body)
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

func typeError(v []byte, want string) error {
	return fmt.Errorf("json: cannot decode %.20q into %s", v, want)
}

func unknownField(key []byte) error {
	k, _ := unquote(key)
	return fmt.Errorf("json: unknown field %q", k)
}
