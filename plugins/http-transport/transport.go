// Package httptransport is the stock transport plugin: the server side of Go Micro's HTTP
// transport as a sans-I/O protocol machine, implementing the transport kind
// (component.Framer, abi/transport.md). It frames requests out of bytes read from a
// connection (ParseRequest) and writes reply heads (AppendResponseHead); the host owns
// listeners, connections, buffers and timers.
//
// The same package is the native twin (Twin) and, through the wrapper in ./wasm serving
// the kind's operations with Ops, http-transport.wasm, so a different .wasm can speak a
// different wire protocol without touching the host.
//
// The wire format is HTTP/1.1 as Go Micro's transport speaks it: each message is a POST on a
// kept-alive connection, framed by Content-Length or chunked transfer coding (Go Micro's
// client sends an empty body chunked), with the mucp headers (Micro-Service, Micro-Endpoint,
// Micro-Id, …), the caller's metadata as further headers and the deadline in a Timeout
// header (nanoseconds).
package httptransport

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/microhost/microhost/host/component"
)

// The wire types are the transport kind's, in package component.
type (
	// Limits bound what ParseRequest accepts.
	Limits = component.TransportLimits
	// Header is one header field; Name and Value are views into the parsed bytes.
	Header = component.TransportHeader
	// Request is a parsed request. Its slices are views into the bytes given to
	// ParseRequest.
	Request = component.TransportFrame
	// Error is a framing error with the HTTP status a server answers it with.
	Error = component.TransportError
)

func get(hs []Header, name string) ([]byte, bool) {
	return component.GetTransportHeader(hs, name)
}

// Framing errors.
var (
	ErrMalformed      = component.ErrTransportMalformed
	ErrMethod         = component.ErrTransportMethod
	ErrLengthRequired = component.ErrTransportLengthRequired
	ErrNotImplemented = component.ErrTransportNotImplemented
	ErrBodyTooLarge   = component.ErrBodyTooLarge
	ErrHeaderTooLarge = component.ErrTransportHeaderTooLarge
	ErrVersion        = component.ErrTransportVersion
)

func malformed(reason string) error {
	return &Error{Status: 400, Reason: "malformed request: " + reason}
}

// ParseRequest frames the first request in b. It returns the request and the number of
// bytes it took; n == 0 with a nil error means b holds only part of a request and the host
// should read more. Every slice of req is a view into b. A chunked body is decoded in place,
// so b is rewritten between the head and n.
func ParseRequest(b []byte, lim Limits, req *Request) (n int, err error) {
	n, err = ParsePrefix(b, len(b), lim, req)
	if err != nil || n == 0 || !req.Chunked {
		return n, err
	}
	body, m, err := DecodeChunked(b[n:], lim.BodyBytes())
	if err != nil || m == 0 {
		return 0, err
	}
	req.Body = body
	req.ContentLength = len(body)
	return n + m, nil
}

// ParsePrefix is ParseRequest for a host that hands over only the first bytes of what it has
// buffered: b is a prefix of a buffer of available bytes. The request's body is set only
// when it lies within b; otherwise the body is at [n-len, n) of the host's buffer, where len
// is the Content-Length. This lets the Wasm twin frame a large request without the body
// being copied into it. For a chunked request it returns the length of the head with
// req.Chunked set.
func ParsePrefix(b []byte, available int, lim Limits, req *Request) (n int, err error) {
	hdrs := req.Headers[:0]
	*req = Request{}
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > lim.HeaderBytes() || available > lim.HeaderBytes()+3 {
			return 0, ErrHeaderTooLarge
		}
		return 0, nil
	}
	if end+4 > lim.HeaderBytes() {
		return 0, ErrHeaderTooLarge
	}
	head := b[:end+2]
	line, rest, _ := bytes.Cut(head, crlf)
	method, line, ok1 := bytes.Cut(line, space)
	target, proto, ok2 := bytes.Cut(line, space)
	if !ok1 || !ok2 || len(method) == 0 || !isToken(method) || !validTarget(target) {
		return 0, malformed("bad request line")
	}
	var minor int
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	default:
		if bytes.HasPrefix(proto, []byte("HTTP/")) {
			return 0, ErrVersion
		}
		return 0, malformed("bad protocol")
	}
	req.Method, req.Target = method, target
	hdrs, fr, err := parseFields(rest, hdrs, minor == 1)
	if err != nil {
		return 0, err
	}
	req.KeepAlive, req.Chunked = fr.keepAlive, fr.chunked
	length := fr.length
	req.Headers = hdrs
	if string(method) != "POST" {
		return 0, ErrMethod
	}
	if req.Chunked {
		if length >= 0 {
			// Both framings at once is how requests are smuggled past proxies.
			return 0, malformed("both Content-Length and chunked transfer coding")
		}
		return end + 4, nil
	}
	if length < 0 {
		return 0, ErrLengthRequired
	}
	if length > lim.BodyBytes() {
		return 0, ErrBodyTooLarge
	}
	total := end + 4 + length
	if available < total {
		return 0, nil
	}
	if total <= len(b) {
		req.Body = b[end+4 : total]
	}
	req.ContentLength = length
	return total, nil
}

// framing is what a message's header fields say about its body and connection.
type framing struct {
	length    int // the Content-Length, or -1 when there is none
	chunked   bool
	keepAlive bool
}

// parseFields reads the header lines in rest (each ending in CRLF), appends them to hdrs and
// returns the framing they declare; keepAlive is the protocol version's default.
func parseFields(rest []byte, hdrs []Header, keepAlive bool) ([]Header, framing, error) {
	fr := framing{length: -1, keepAlive: keepAlive}
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(l, colon)
		if !ok || len(name) == 0 || !isToken(name) {
			return hdrs, fr, malformed("bad header line")
		}
		value = trim(value)
		if !validValue(value) {
			return hdrs, fr, malformed("bad header value")
		}
		switch {
		case equalFold(name, "Content-Length"):
			v, err := parseLength(value)
			if err != nil || (fr.length >= 0 && v != fr.length) {
				return hdrs, fr, malformed("bad Content-Length")
			}
			fr.length = v
		case equalFold(name, "Transfer-Encoding"):
			if !equalFold(value, "chunked") || fr.chunked {
				return hdrs, fr, ErrNotImplemented
			}
			fr.chunked = true
		case equalFold(name, "Connection"):
			switch {
			case equalFold(value, "close"):
				fr.keepAlive = false
			case equalFold(value, "keep-alive"):
				fr.keepAlive = true
			}
		}
		hdrs = append(hdrs, Header{Name: name, Value: value})
	}
	return hdrs, fr, nil
}

// DecodeChunked decodes a body in chunked transfer coding at the start of b. It returns the
// body and the bytes the coding took (chunks, last chunk and trailer); n == 0 with a nil
// error asks for more bytes. The body is compacted in place at the start of b, so b is
// rewritten — but only once the whole body is there.
func DecodeChunked(b []byte, maxBody int) (body []byte, n int, err error) {
	// First pass: validate and measure without writing, so an incomplete body leaves b as
	// it was.
	pos, size := 0, 0
	for {
		line, ok := chunkLine(b[pos:])
		if !ok {
			if len(b)-pos > 1024 {
				return nil, 0, malformed("chunk size line too long")
			}
			return nil, 0, nil
		}
		sz, err := chunkSize(line)
		if err != nil {
			return nil, 0, err
		}
		pos += len(line) + 2
		if sz == 0 {
			break
		}
		if size+sz > maxBody {
			return nil, 0, ErrBodyTooLarge
		}
		if len(b)-pos < sz+2 {
			return nil, 0, nil
		}
		if b[pos+sz] != '\r' || b[pos+sz+1] != '\n' {
			return nil, 0, malformed("chunk not followed by CRLF")
		}
		size += sz
		pos += sz + 2
	}
	// Trailer fields, then an empty line.
	for {
		line, ok := chunkLine(b[pos:])
		if !ok {
			if len(b)-pos > 4096 {
				return nil, 0, ErrHeaderTooLarge
			}
			return nil, 0, nil
		}
		pos += len(line) + 2
		if len(line) == 0 {
			break
		}
		if !bytes.Contains(line, colon) {
			return nil, 0, malformed("bad trailer line")
		}
	}
	n = pos
	// Second pass: move the chunks' data to the front.
	pos, size = 0, 0
	for {
		line, _ := chunkLine(b[pos:])
		sz, _ := chunkSize(line)
		pos += len(line) + 2
		if sz == 0 {
			break
		}
		copy(b[size:], b[pos:pos+sz])
		size += sz
		pos += sz + 2
	}
	return b[:size:size], n, nil
}

// chunkLine returns the line at the start of b without its CRLF.
func chunkLine(b []byte) ([]byte, bool) {
	i := bytes.Index(b, crlf)
	if i < 0 {
		return nil, false
	}
	return b[:i], true
}

// chunkSize reads a chunk-size line: hex digits, then optional extensions after ';'.
func chunkSize(line []byte) (int, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trim(line)
	if len(line) == 0 || len(line) > 7 {
		return 0, malformed("bad chunk size")
	}
	n := 0
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, malformed("bad chunk size")
		}
		n = n<<4 | int(d)
	}
	return n, nil
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	space    = []byte(" ")
	colon    = []byte(":")
)

// validTarget accepts the origin form ("/path") and the absolute form ("http://host/path")
// made of visible ASCII.
func validTarget(t []byte) bool {
	if !bytes.HasPrefix(t, []byte("/")) && !bytes.HasPrefix(t, []byte("http://")) && !bytes.HasPrefix(t, []byte("https://")) {
		return false
	}
	for _, c := range t {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func parseLength(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 10 {
		return 0, errors.New("bad length")
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errors.New("bad length")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func trim(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// ValidHeaderName reports whether name can be an HTTP header field name: a non-empty RFC 9110
// token. Headers that fail it are never written.
func ValidHeaderName(name string) bool { return component.ValidHeaderName(name) }

// ValidHeaderValue reports whether value can be an HTTP header field value: no control
// characters other than tab. Headers that fail it are never written.
func ValidHeaderValue(value string) bool { return component.ValidHeaderValue(value) }

func validValue[T []byte | string](v T) bool { return component.ValidValue(v) }

func isToken[T []byte | string](b T) bool { return component.IsToken(b) }

// equalFold compares ASCII case-insensitively without allocating.
func equalFold[T []byte | string](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AppendResponseHead appends the status line and headers of a reply whose body of bodyLen
// bytes the host writes after it. Header names and values with CR or LF are dropped, so a
// handler's metadata cannot split the response.
func AppendResponseHead(dst []byte, status int, headers []Header, bodyLen int, keepAlive bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason(status)...)
	dst = append(dst, "\r\n"...)
	for _, h := range headers {
		if len(h.Name) == 0 || !isToken(h.Name) || !validValue(h.Value) || equalFold(h.Name, "Content-Length") || equalFold(h.Name, "Connection") {
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(bodyLen), 10)
	if !keepAlive {
		dst = append(dst, "\r\nConnection: close"...)
	}
	return append(dst, "\r\n\r\n"...)
}

func reason(status int) string {
	switch status {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}
