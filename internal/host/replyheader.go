package host

import (
	"strings"

	"github.com/microhost/microhost/abi"
)

// Default caps on the metadata a handler sets on its reply. The whole reply head must also
// fit the caller's transport limit (max_header_bytes, 64 KiB by default), so these stay
// well below it.
const (
	// DefaultMaxReplyHeaders caps the number of reply headers a handler sets.
	DefaultMaxReplyHeaders = 64
	// DefaultMaxReplyHeaderBytes caps their total size, counted as name + value + 4 bytes
	// (": " and CRLF) each.
	DefaultMaxReplyHeaderBytes = 32 << 10
)

// ReservedReplyHeaders are the names a handler cannot set on its reply: the transport's
// framing and mucp's own records (abi/ABI.md lists them). A handler's attempt is dropped
// and logged; the call goes on.
var ReservedReplyHeaders = []string{
	"Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Upgrade", "Trailer", "TE", "Host", "Timeout",
	"Micro-Id", "Micro-Service", "Micro-Endpoint", "Micro-Method", "Micro-Error",
	"Micro-Stream", "Micro-Stream-End", "Micro-Protocol", "Micro-Target", "Micro-Topic",
}

func reservedReplyHeader(name string) bool {
	for _, r := range ReservedReplyHeaders {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// validHeaderName is an HTTP token: no separators, spaces or control bytes.
func validHeaderName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue has no control bytes but tab, so it cannot end the line it is on.
func validHeaderValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// setReplyHeader records one reply header within the caps. A reserved or malformed name or
// a malformed value is dropped with a warning; going over a cap fails the call with a 500
// naming the limit (see Module.Call), and nothing more is recorded.
func (s *callState) setReplyHeader(key, val []byte) {
	if s.headerErr != nil {
		return
	}
	switch {
	case !validHeaderName(key) || !validHeaderValue(val):
		s.logger.Warn("handler set a malformed reply header; dropped", "endpoint", s.req.Endpoint, "name", truncate(key, 64))
		return
	case reservedReplyHeader(string(key)):
		s.logger.Warn("handler set a reserved reply header; dropped", "endpoint", s.req.Endpoint, "name", string(key))
		return
	}
	size := len(key) + len(val) + 4
	old, replacing := s.rspHeader[string(key)]
	if replacing {
		size -= len(key) + len(old) + 4
	}
	switch {
	case !replacing && len(s.rspHeader) >= s.maxHeaders:
		s.headerErr = abi.NewError("", 500, "%s set more reply headers than the limit of %d", s.req.Endpoint, s.maxHeaders)
		return
	case s.headerBytes+size > s.maxHeaderBytes:
		s.headerErr = abi.NewError("", 500, "%s set reply headers over the limit of %d bytes", s.req.Endpoint, s.maxHeaderBytes)
		return
	}
	if s.rspHeader == nil {
		s.rspHeader = make(map[string]string, 1)
	}
	s.rspHeader[string(key)] = string(val)
	s.headerBytes += size
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// replyState is the reply a handler builds through response_body, response_header and
// error, with the caps on its headers (replyheader.go).
type replyState struct {
	rspBody   []byte
	rspHeader map[string]string
	err       *abi.Error
	// maxHeaders and maxHeaderBytes cap the reply headers; headerBytes is their size so far
	// and headerErr the failure once over a cap.
	maxHeaders     int
	maxHeaderBytes int
	headerBytes    int
	headerErr      *abi.Error
}

func (r *replyState) reset() {
	r.rspBody, r.rspHeader, r.err = nil, nil, nil
	r.headerBytes, r.headerErr = 0, nil
}
