package httptransport

import (
	"bytes"
	"strconv"
)

// AppendRequestHead appends the request line and headers of a POST to host whose body of
// bodyLen bytes the caller writes after it. Header fields that could split the request are
// dropped, as in AppendResponseHead.
func AppendRequestHead(dst []byte, host string, headers []Header, bodyLen int) []byte {
	dst = append(dst, "POST / HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	for _, h := range headers {
		if !isToken(h.Name) || !validValue(h.Value) || equalFold(h.Name, "Content-Length") || equalFold(h.Name, "Host") {
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

// Response is a parsed reply; its slices are views into the parsed bytes.
type Response struct {
	Status    int
	Headers   []Header
	Body      []byte
	KeepAlive bool
}

// Get returns the value of the first header named name, compared case-insensitively.
func (r *Response) Get(name string) ([]byte, bool) {
	return get(r.Headers, name)
}

// ParseResponse frames the first reply in b, as ParseRequest frames a request (a chunked
// body is decoded in place).
func ParseResponse(b []byte, lim Limits, rsp *Response) (n int, err error) {
	hdrs := rsp.Headers[:0]
	*rsp = Response{}
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > lim.header() {
			return 0, ErrHeaderTooLarge
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
		body, m, err := DecodeChunked(b[end+4:], lim.body())
		if err != nil || m == 0 {
			return 0, err
		}
		rsp.Body = body
		return end + 4 + m, nil
	}
	if length < 0 {
		return 0, ErrLengthRequired
	}
	if length > lim.body() {
		return 0, ErrBodyTooLarge
	}
	total := end + 4 + length
	if len(b) < total {
		return 0, nil
	}
	rsp.Body = b[end+4 : total]
	return total, nil
}
