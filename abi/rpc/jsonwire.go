package rpc

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file is the runtime of the JSON methods protoc-gen-microhost generates on messages
// (MicrohostAppendJSON and MicrohostDecodeJSON). Generated code encodes and decodes exactly as
// encoding/json does on protoc-gen-go's structs, without reflection; where a value is one it
// does not handle on its own (an escape in a string, a key it does not know, a number
// encoding/json would refuse), the generated code gives up and Serve and Invoke fall back to
// encoding/json, which then decides. So the fast path never changes an answer: it only
// reaches it sooner. wirejson_test.go holds the two equal.

// jsonCodec is implemented by the messages protoc-gen-microhost generates JSON methods for.
type jsonCodec interface {
	// MicrohostAppendJSON appends the message as encoding/json encodes it; false means it
	// holds a value only encoding/json can report on (a NaN or an infinity).
	MicrohostAppendJSON(b []byte) ([]byte, bool)
	// MicrohostDecodeJSON decodes a JSON value from r into the message, which is new; it
	// fails r on input it leaves to encoding/json.
	MicrohostDecodeJSON(r *JSONReader)
}

// JSONField appends key, a quoted object key with its colon, to b, which holds an object
// opened at start (just after its '{'), with the comma that separates it from an earlier
// field.
func JSONField(b []byte, start int, key string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	return append(b, key...)
}

// AppendJSONBytes appends v as encoding/json encodes a []byte: a string of standard base64.
func AppendJSONBytes(b []byte, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// AppendJSONFloat appends f, a float of bits (32 or 64) bits, as encoding/json writes it: the
// shortest form that reads back, in exponent form below 1e-6 and from 1e21. It returns false
// for a NaN or an infinity, which encoding/json refuses.
func AppendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	// The bounds compare in the float's own precision: a float32 of 1e-6 is below the
	// float64 1e-6 but not below the float32 one.
	if abs := math.Abs(f); abs != 0 {
		if bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) || bits == 64 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// strconv writes a two-digit exponent (1e-07); encoding/json trims it to 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// JSONReader reads the JSON values generated MicrohostDecodeJSON methods ask for. It handles
// the common case itself and fails (see Fail) on anything else: an escaped string, a number
// that is not a plain integer where one is wanted, a type that does not match the field.
// A failed reader returns zero values and reads no further.
type JSONReader struct {
	data   []byte
	pos    int
	failed bool
	// first is set after an object's '{' or an array's '[' until its first key or element
	// has been read.
	first bool
	// depth counts the objects and arrays open, bounded as encoding/json bounds it.
	depth int
}

// maxJSONDepth is encoding/json's bound on nesting; deeper input is left to it to refuse.
const maxJSONDepth = 10000

// NewJSONReader returns a reader of data.
func NewJSONReader(data []byte) JSONReader {
	return JSONReader{data: data}
}

// Fail marks r as unable to decode its input on its own.
func (r *JSONReader) Fail() {
	r.failed = true
	r.pos = len(r.data)
}

// Failed reports whether r failed.
func (r *JSONReader) Failed() bool { return r.failed }

// Done reports whether r decoded its input: it did not fail, and only white space follows
// what it read.
func (r *JSONReader) Done() bool {
	r.skipSpace()
	return !r.failed && r.pos == len(r.data)
}

func (r *JSONReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (r *JSONReader) peek() byte {
	r.skipSpace()
	if r.pos < len(r.data) {
		return r.data[r.pos]
	}
	return 0
}

// literal consumes lit (null, true or false) if it comes next, as a whole token.
func (r *JSONReader) literal(lit string) bool {
	r.skipSpace()
	end := r.pos + len(lit)
	if end > len(r.data) || string(r.data[r.pos:end]) != lit {
		return false
	}
	if end < len(r.data) {
		switch c := r.data[end]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return false
		}
	}
	r.pos = end
	return true
}

// Null consumes a null if one comes next; encoding/json leaves a field alone for it.
func (r *JSONReader) Null() bool {
	return !r.failed && r.literal("null")
}

// BeginObject consumes an object's '{'; it returns false, having consumed the value, when
// the value is null, and fails r when it is anything but an object.
func (r *JSONReader) BeginObject() bool {
	if r.failed || r.Null() {
		return false
	}
	if r.peek() != '{' || r.depth == maxJSONDepth {
		r.Fail()
		return false
	}
	r.pos++
	r.first = true
	r.depth++
	return true
}

// NextKey reads the next key of the object being read, with its colon, and reports false
// at the object's '}'. The key is valid until r reads on.
func (r *JSONReader) NextKey() ([]byte, bool) {
	if r.failed {
		return nil, false
	}
	c := r.peek()
	if c == '}' {
		r.pos++
		r.first = false
		r.depth--
		return nil, false
	}
	if !r.first {
		if c != ',' {
			r.Fail()
			return nil, false
		}
		r.pos++
	}
	r.first = false
	key, ok := r.plainString()
	if !ok || r.peek() != ':' {
		r.Fail()
		return nil, false
	}
	r.pos++
	return key, true
}

// BeginArray consumes an array's '['; it returns false, having consumed the value, when the
// value is null, and fails r when it is anything but an array.
func (r *JSONReader) BeginArray() bool {
	if r.failed || r.Null() {
		return false
	}
	if r.peek() != '[' || r.depth == maxJSONDepth {
		r.Fail()
		return false
	}
	r.pos++
	r.first = true
	r.depth++
	return true
}

// NextElement reports whether another element of the array being read follows, consuming
// its comma, and false at the array's ']'.
func (r *JSONReader) NextElement() bool {
	if r.failed {
		return false
	}
	c := r.peek()
	if c == ']' {
		r.pos++
		r.first = false
		r.depth--
		return false
	}
	if !r.first {
		if c != ',' {
			r.Fail()
			return false
		}
		r.pos++
	}
	r.first = false
	return true
}

// plainString reads a string without escapes or control characters whose bytes are valid
// UTF-8: the strings encoding/json would read back unchanged.
func (r *JSONReader) plainString() ([]byte, bool) {
	if r.peek() != '"' {
		return nil, false
	}
	start := r.pos + 1
	ascii := true
	for i := start; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			s := r.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			r.pos = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// String reads a string value.
func (r *JSONReader) String() string {
	if r.failed {
		return ""
	}
	s, ok := r.plainString()
	if !ok {
		r.Fail()
		return ""
	}
	return string(s)
}

// Bytes reads a string of standard base64, as encoding/json decodes a []byte.
func (r *JSONReader) Bytes() []byte {
	if r.failed {
		return nil
	}
	s, ok := r.plainString()
	if !ok {
		r.Fail()
		return nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		r.Fail()
		return nil
	}
	return out[:n]
}

// Bool reads true or false.
func (r *JSONReader) Bool() bool {
	switch {
	case r.failed:
		return false
	case r.literal("true"):
		return true
	case r.literal("false"):
		return false
	}
	r.Fail()
	return false
}

// number reads a JSON number's text; integer requires it to have no fraction or exponent.
func (r *JSONReader) number(integer bool) []byte {
	if r.failed {
		return nil
	}
	r.skipSpace()
	d, i := r.data, r.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		r.Fail()
		return nil
	}
	if !integer {
		if i < len(d) && d[i] == '.' {
			i++
			if i == len(d) || d[i] < '0' || d[i] > '9' {
				r.Fail()
				return nil
			}
			for i < len(d) && d[i] >= '0' && d[i] <= '9' {
				i++
			}
		}
		if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
			i++
			if i < len(d) && (d[i] == '+' || d[i] == '-') {
				i++
			}
			if i == len(d) || d[i] < '0' || d[i] > '9' {
				r.Fail()
				return nil
			}
			for i < len(d) && d[i] >= '0' && d[i] <= '9' {
				i++
			}
		}
	}
	if i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r', ',', '}', ']':
		default:
			r.Fail()
			return nil
		}
	}
	s := d[r.pos:i]
	r.pos = i
	return s
}

// Int reads an integer that fits in bits (32 or 64) bits.
func (r *JSONReader) Int(bits int) int64 {
	s := r.number(true)
	if r.failed {
		return 0
	}
	v, err := strconv.ParseInt(string(s), 10, bits)
	if err != nil {
		r.Fail()
		return 0
	}
	return v
}

// Uint reads an unsigned integer that fits in bits (32 or 64) bits.
func (r *JSONReader) Uint(bits int) uint64 {
	s := r.number(true)
	if r.failed {
		return 0
	}
	v, err := strconv.ParseUint(string(s), 10, bits)
	if err != nil {
		r.Fail()
		return 0
	}
	return v
}

// Float reads a number that fits in a float of bits (32 or 64) bits.
func (r *JSONReader) Float(bits int) float64 {
	s := r.number(false)
	if r.failed {
		return 0
	}
	v, err := strconv.ParseFloat(string(s), bits)
	if err != nil {
		r.Fail()
		return 0
	}
	return v
}
