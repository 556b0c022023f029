package transport

// The client's built-in wire: Go Micro's HTTP/1.1 transport as a client speaks it, for a
// client given no framer of the configured transport (ClientOptions.NewFramer) — a client
// outside a service, such as `microhost call`'s, talks to stock Go Micro servers.

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"github.com/microhost/microhost/host/component"
)

// goMicroWire is the client side of Go Micro's HTTP/1.1, the client's framer when it is
// given none.
type goMicroWire struct{}

// Request implements component.ClientFramer.
func (goMicroWire) Request(_ context.Context, dst []byte, host string, headers []component.TransportHeader, bodyLen int) ([]byte, error) {
	return appendRequestHead(dst, host, headers, bodyLen), nil
}

// Response implements component.ClientFramer.
func (goMicroWire) Response(_ context.Context, buf []byte, lim component.TransportLimits, r *component.TransportResponse) (int, error) {
	return parseResponse(buf, lim, r)
}

// appendRequestHead appends the request line and headers of a POST to host whose body of
// bodyLen bytes the caller writes after it. Header fields that could split the request are
// dropped, as in AppendResponseHead.
func appendRequestHead(dst []byte, host string, headers []component.TransportHeader, bodyLen int) []byte {
	dst = append(dst, "POST / HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	for _, h := range headers {
		if len(h.Name) == 0 || !component.IsToken(h.Name) || !component.ValidValue(h.Value) || equalFold(h.Name, component.HeaderContentLength) || equalFold(h.Name, component.HeaderHost) {
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(bodyLen), 10)
	return append(dst, "\r\n\r\n"...)
}

// parseResponse frames the first reply in b, as ParseRequest frames a request (a chunked
// body is decoded in place).
func parseResponse(b []byte, lim component.TransportLimits, rsp *component.TransportResponse) (n int, err error) {
	hdrs := rsp.Headers[:0]
	*rsp = component.TransportResponse{}
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > lim.HeaderBytes() {
			return 0, component.ErrTransportHeaderTooLarge
		}
		return 0, nil
	}
	line, rest, _ := bytes.Cut(b[:end+2], crlf)
	proto, line, ok := bytes.Cut(line, space)
	code, _, _ := bytes.Cut(line, space)
	if !ok || (string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0") || len(code) != 3 {
		return 0, malformed("bad status line")
	}
	status, err := parseLength(code)
	if err != nil || status < 100 {
		return 0, malformed("bad status code")
	}
	rsp.Status = status
	hdrs, fr, err := parseFields(rest, hdrs, string(proto) == "HTTP/1.1")
	if err != nil {
		return 0, err
	}
	rsp.KeepAlive = fr.keepAlive
	length, chunked := fr.length, fr.chunked
	rsp.Headers = hdrs
	if chunked {
		body, m, err := decodeChunked(b[end+4:], lim.BodyBytes())
		if err != nil || m == 0 {
			return 0, err
		}
		rsp.Body = body
		return end + 4 + m, nil
	}
	if length < 0 {
		return 0, component.ErrTransportLengthRequired
	}
	if length > lim.BodyBytes() {
		return 0, component.ErrBodyTooLarge
	}
	total := end + 4 + length
	if len(b) < total {
		return 0, nil
	}
	rsp.Body = b[end+4 : total]
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
func parseFields(rest []byte, hdrs []component.TransportHeader, keepAlive bool) ([]component.TransportHeader, framing, error) {
	fr := framing{length: -1, keepAlive: keepAlive}
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(l, colon)
		if !ok || len(name) == 0 || !component.IsToken(name) {
			return hdrs, fr, malformed("bad header line")
		}
		value = trim(value)
		if !component.ValidValue(value) {
			return hdrs, fr, malformed("bad header value")
		}
		switch {
		case equalFold(name, component.HeaderContentLength):
			v, err := parseLength(value)
			if err != nil || (fr.length >= 0 && v != fr.length) {
				return hdrs, fr, malformed("bad Content-Length")
			}
			fr.length = v
		case equalFold(name, "Transfer-Encoding"):
			if !equalFold(value, "chunked") || fr.chunked {
				return hdrs, fr, component.ErrTransportNotImplemented
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
		hdrs = append(hdrs, component.TransportHeader{Name: name, Value: value})
	}
	return hdrs, fr, nil
}

// decodeChunked decodes a body in chunked transfer coding at the start of b. It returns the
// body and the bytes the coding took (chunks, last chunk and trailer); n == 0 with a nil
// error asks for more bytes. The body is compacted in place at the start of b, so b is
// rewritten — but only once the whole body is there.
func decodeChunked(b []byte, maxBody int) (body []byte, n int, err error) {
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
			return nil, 0, component.ErrBodyTooLarge
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
				return nil, 0, component.ErrTransportHeaderTooLarge
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

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	space    = []byte(" ")
	colon    = []byte(":")
)

func malformed(reason string) error {
	return &component.TransportError{Status: 400, Reason: "malformed reply: " + reason}
}
