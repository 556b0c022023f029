// Package jsonstr writes JSON string literals: as encoding/json.Marshal writes a Go string
// (AppendMarshaled), or with only the escapes JSON requires (AppendQuoted). It depends on the
// standard library alone, so the code generated for messages (through abi/rpc) and the stock
// JSON plugins share it without linking anything else into a module.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s as a JSON string literal to dst. It escapes the quote, the backslash
// and control characters, and writes invalid UTF-8 as U+FFFD, so the result is always valid
// JSON and valid UTF-8.
func AppendQuoted(dst, s []byte) []byte {
	return appendQuoted(dst, s, false)
}

// AppendMarshaled appends s as a JSON string literal to dst exactly as encoding/json.Marshal
// writes a Go string: like AppendQuoted, and it also escapes <, > and & (Marshal's HTML-safe
// escaping) and the separators U+2028 and U+2029.
func AppendMarshaled(dst []byte, s string) []byte {
	return appendQuoted(dst, s, true)
}

// AppendMarshaledBytes is AppendMarshaled of the text in s, without converting it to a
// string first.
func AppendMarshaledBytes(dst, s []byte) []byte {
	return appendQuoted(dst, s, true)
}

func appendQuoted[S string | []byte](dst []byte, s S, marshal bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf && !(marshal && isHTMLSpecial(c)) {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := decodeRune(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
			case marshal && (r == '\u2028' || r == '\u2029'):
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			default:
				i += size
				continue
			}
			i += size
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isHTMLSpecial reports whether encoding/json.Marshal escapes the ASCII byte c to keep its
// output safe to embed in HTML.
func isHTMLSpecial(c byte) bool { return c == '<' || c == '>' || c == '&' }

// decodeRune is utf8.DecodeRune for a string or a byte slice.
func decodeRune[S string | []byte](s S) (rune, int) {
	if b, ok := any(s).([]byte); ok {
		return utf8.DecodeRune(b)
	}
	return utf8.DecodeRuneInString(string(s))
}
