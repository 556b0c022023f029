package httptransport

import (
	"bytes"
	"strconv"

	"github.com/microhost/microhost/host/component"
)

// Response is a parsed reply; its slices are views into the parsed bytes.
type Response = component.TransportResponse

// AppendRequestHead appends the request line and headers of a POST to host whose body of
// bodyLen bytes the caller writes after it. Header fields that could split the request are
// dropped, as in AppendResponseHead.
func AppendRequestHead(dst []byte, host string, headers []Header, bodyLen int) []byte {
	dst = append(dst, "POST / HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	for _, h := range headers {
		if len(h.Name) == 0 || !isToken(h.Name) || !validValue(h.Value) || equalFold(h.Name, "Content-Length") || equalFold(h.Name, "Host") {
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

// ParseResponse frames the first reply in b, as ParseRequest frames a request (a chunked
// body is decoded in place).
func ParseResponse(b []byte, lim Limits, rsp *Response) (n int, err error) {
	n, err = ParseResponsePrefix(b, len(b), lim, rsp)
	if err != nil || n == 0 || !rsp.Chunked {
		return n, err
	}
	body, m, err := DecodeChunked(b[n:], lim.BodyBytes())
	if err != nil || m == 0 {
		return 0, err
	}
	rsp.Body = body
	rsp.ContentLength = len(body)
	return n + m, nil
}

// ParseResponsePrefix is ParsePrefix for a reply: b is a prefix of a buffer of available
// bytes; the body is set only when it lies within b, and a chunked reply returns the length
// of its head with rsp.Chunked set.
func ParseResponsePrefix(b []byte, available int, lim Limits, rsp *Response) (n int, err error) {
	hdrs := rsp.Headers[:0]
	*rsp = Response{}
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
	hdrs, fr, err := parseFields(rest, hdrs, string(proto) == "HTTP/1.1")
	rsp.Headers = hdrs
	if err != nil {
		return 0, err
	}
	rsp.Status, rsp.KeepAlive, rsp.Chunked = status, fr.keepAlive, fr.chunked
	if rsp.Chunked {
		if fr.length >= 0 {
			return 0, malformed("both Content-Length and chunked transfer coding")
		}
		return end + 4, nil
	}
	if fr.length < 0 {
		return 0, ErrLengthRequired
	}
	if fr.length > lim.BodyBytes() {
		return 0, ErrBodyTooLarge
	}
	total := end + 4 + fr.length
	if available < total {
		return 0, nil
	}
	if total <= len(b) {
		rsp.Body = b[end+4 : total]
	}
	rsp.ContentLength = fr.length
	return total, nil
}
