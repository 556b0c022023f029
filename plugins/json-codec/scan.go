package jsoncodec

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/microhost/microhost/abi/jsonstr"
)

// MaxDepth is the deepest nesting of arrays and objects accepted, the limit encoding/json
// also applies. It keeps a hostile body from exhausting the stack.
const MaxDepth = 10000

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	// Offset is the byte offset at which the error was found.
	Offset int
	// Msg says what is wrong.
	Msg string
}

// Error returns the message and the offset.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset)
}

func syntaxError(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func unexpected(b []byte, i int, what string) error {
	if i >= len(b) {
		return syntaxError(i, "unexpected end of JSON input")
	}
	return syntaxError(i, "invalid character %q %s", b[i], what)
}

// Validate reports whether b holds exactly one JSON value, with optional whitespace around
// it. It accepts what encoding/json.Valid accepts, without allocating.
func Validate(b []byte) error {
	i, err := SkipValue(b, 0)
	if err != nil {
		return err
	}
	if i = SkipSpace(b, i); i != len(b) {
		return unexpected(b, i, "after top-level value")
	}
	return nil
}

// SkipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipValue checks the JSON value that starts at b[i] (after optional whitespace) and returns
// the index just past it.
func SkipValue(b []byte, i int) (int, error) {
	return skipValue(b, SkipSpace(b, i), 0)
}

func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, unexpected(b, i, "")
	}
	switch c := b[i]; {
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '"':
		return skipString(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return i, unexpected(b, i, "looking for beginning of value")
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, unexpected(b, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, syntaxError(i, "exceeded max depth of %d", MaxDepth)
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, unexpected(b, i, "looking for beginning of object key string")
		}
		var err error
		if i, err = skipString(b, i); err != nil {
			return i, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, unexpected(b, i, "after object key")
		}
		if i, err = skipValue(b, SkipSpace(b, i+1), depth); err != nil {
			return i, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return i, unexpected(b, i, "")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, unexpected(b, i, "after object key:value pair")
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, syntaxError(i, "exceeded max depth of %d", MaxDepth)
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return i, unexpected(b, i, "")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, unexpected(b, i, "after array element")
		}
	}
}

func skipString(b []byte, i int) (int, error) {
	i++ // the opening quote
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i + 1, unexpected(b, i+1, "")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i + k, unexpected(b, i+k, "")
					}
					if !isHex(b[i+k]) {
						return i + k, unexpected(b, i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return i + 1, unexpected(b, i+1, "in string escape code")
			}
		case c < 0x20:
			return i, unexpected(b, i, "in string literal")
		default:
			i++
		}
	}
	return i, unexpected(b, i, "")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, unexpected(b, i, "")
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, unexpected(b, i, "in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, unexpected(b, i, "after decimal point in numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, unexpected(b, i, "in exponent of numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// ObjectReader walks the members of one JSON object without allocating.
type ObjectReader struct {
	b     []byte
	i     int
	first bool
}

// NewObjectReader starts reading the object that begins at b[i] (after optional whitespace).
func NewObjectReader(b []byte, i int) (ObjectReader, error) {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return ObjectReader{}, unexpected(b, i, "looking for beginning of object")
	}
	return ObjectReader{b: b, i: i + 1, first: true}, nil
}

// Next returns the next member's key (a string literal with its quotes) and value (the raw,
// checked JSON value), or ok false after the last one. Offset then is just past the object.
func (r *ObjectReader) Next() (key, value []byte, ok bool, err error) {
	b := r.b
	i := SkipSpace(b, r.i)
	if i >= len(b) {
		return nil, nil, false, unexpected(b, i, "")
	}
	if r.first {
		r.first = false
		if b[i] == '}' {
			r.i = i + 1
			return nil, nil, false, nil
		}
	} else {
		switch b[i] {
		case '}':
			r.i = i + 1
			return nil, nil, false, nil
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return nil, nil, false, unexpected(b, i, "after object key:value pair")
		}
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false, unexpected(b, i, "looking for beginning of object key string")
	}
	end, err := skipString(b, i)
	if err != nil {
		return nil, nil, false, err
	}
	key = b[i:end]
	i = SkipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false, unexpected(b, i, "after object key")
	}
	start := SkipSpace(b, i+1)
	end, err = skipValue(b, start, 1)
	if err != nil {
		return nil, nil, false, err
	}
	r.i = end
	return key, b[start:end], true, nil
}

// Offset returns the index in b the reader has reached.
func (r *ObjectReader) Offset() int { return r.i }

// ArrayReader walks the elements of one JSON array without allocating.
type ArrayReader struct {
	b     []byte
	i     int
	first bool
}

// NewArrayReader starts reading the array that begins at b[i] (after optional whitespace).
func NewArrayReader(b []byte, i int) (ArrayReader, error) {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return ArrayReader{}, unexpected(b, i, "looking for beginning of array")
	}
	return ArrayReader{b: b, i: i + 1, first: true}, nil
}

// Next returns the next element (the raw, checked JSON value), or ok false after the last one.
// Offset then is just past the array.
func (r *ArrayReader) Next() (elem []byte, ok bool, err error) {
	b := r.b
	i := SkipSpace(b, r.i)
	if i >= len(b) {
		return nil, false, unexpected(b, i, "")
	}
	switch {
	case b[i] == ']' && r.first:
		r.i = i + 1
		return nil, false, nil
	case r.first:
		r.first = false
	case b[i] == ']':
		r.i = i + 1
		return nil, false, nil
	case b[i] == ',':
		i = SkipSpace(b, i+1)
	default:
		return nil, false, unexpected(b, i, "after array element")
	}
	end, err := skipValue(b, i, 1)
	if err != nil {
		return nil, false, err
	}
	r.i = end
	return b[i:end], true, nil
}

// Offset returns the index in b the reader has reached.
func (r *ArrayReader) Offset() int { return r.i }

// FirstElement returns the first element of a checked JSON array, or ok false when it is
// empty.
func FirstElement(array []byte) (elem []byte, ok bool) {
	i := SkipSpace(array, 1)
	if i >= len(array) || array[i] == ']' {
		return nil, false
	}
	end, err := skipValue(array, i, 1)
	if err != nil {
		return nil, false
	}
	return array[i:end], true
}

// KeyIs reports whether the object key literal (with its quotes) names name, which must be
// plain ASCII. Like encoding/json, it ignores case; a key with escapes is decoded first.
func KeyIs(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	var buf [32]byte
	for _, c := range inner {
		if c == '\\' {
			decoded, err := AppendUnquoted(buf[:0], key)
			if err != nil {
				return false
			}
			inner = decoded
			break
		}
	}
	if len(inner) != len(name) {
		return false
	}
	for k := range len(inner) {
		a, b := inner[k], name[k]
		if a >= 'A' && a <= 'Z' {
			a += 'a' - 'A'
		}
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// FieldIs reports whether the object key literal key (with its quotes) selects the struct field
// whose JSON name is name, plain ASCII, the way encoding/json matches keys to fields: ignoring
// case with Unicode simple case folding, so that "ſeed" (long s) selects "seed" and a Kelvin
// sign selects "k". KeyIs folds ASCII letters only.
func FieldIs(key []byte, name string) bool {
	if isPlainASCII(key) {
		return KeyIs(key, name) // no rune of the key folds to a non-ASCII one
	}
	var buf [64]byte
	k, err := AppendUnmarshaledString(buf[:0], key)
	if err != nil {
		return false
	}
	j := 0
	for i := 0; i < len(k); j++ {
		r, size := utf8.DecodeRune(k[i:])
		i += size
		if j >= len(name) || foldRune(r) != foldRune(rune(name[j])) {
			return false
		}
	}
	return j == len(name)
}

// isPlainASCII reports whether the string literal key holds ASCII bytes and no escapes.
func isPlainASCII(key []byte) bool {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldRune returns the smallest rune of r's case-folding orbit, as encoding/json folds the
// runes of keys and field names: upper case for ASCII letters.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// AppendUnquoted appends the decoded content of the checked JSON string literal quoted (with
// its quotes) to dst. Escapes are decoded as encoding/json decodes them: a lone UTF-16
// surrogate becomes U+FFFD; other bytes are copied unchanged.
func AppendUnquoted(dst, quoted []byte) ([]byte, error) {
	return appendUnquoted(dst, quoted, false)
}

// AppendUnmarshaledString appends the content of the checked JSON string literal quoted (with
// its quotes) to dst exactly as encoding/json.Unmarshal decodes it into a Go string: like
// AppendUnquoted, and each byte of invalid UTF-8 also becomes U+FFFD.
func AppendUnmarshaledString(dst, quoted []byte) ([]byte, error) {
	return appendUnquoted(dst, quoted, true)
}

func appendUnquoted(dst, quoted []byte, fixUTF8 bool) ([]byte, error) {
	if len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
		return dst, syntaxError(0, "not a JSON string literal")
	}
	s := quoted[1 : len(quoted)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			if fixUTF8 {
				dst = appendValidUTF8(dst, s[i:j])
			} else {
				dst = append(dst, s[i:j]...)
			}
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, syntaxError(i+1, "unexpected end of string escape")
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return dst, syntaxError(i+1, "invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, syntaxError(i+1, "invalid escape %q", s[i+1])
		}
		i += 2
	}
	return dst, nil
}

// appendValidUTF8 appends s to dst with each byte of invalid UTF-8 replaced by U+FFFD, as
// encoding/json does when it decodes a string.
func appendValidUTF8(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return append(dst, s...)
	}
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		dst = utf8.AppendRune(dst, r) // RuneError for a byte of invalid UTF-8
		s = s[size:]
	}
	return dst
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// AppendQuoted appends s as a JSON string literal to dst. It escapes the quote, the backslash
// and control characters, and writes invalid UTF-8 as U+FFFD, so the result is always valid
// JSON and valid UTF-8.
func AppendQuoted(dst, s []byte) []byte { return jsonstr.AppendQuoted(dst, s) }

// AppendMarshaledString appends s as a JSON string literal to dst exactly as
// encoding/json.Marshal writes a Go string (see jsonstr.AppendMarshaled).
func AppendMarshaledString(dst []byte, s string) []byte { return jsonstr.AppendMarshaled(dst, s) }
