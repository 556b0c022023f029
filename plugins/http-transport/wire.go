package httptransport

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The Wasm twin's operations and their wire forms:
//
// "frame" takes varint(max_header_bytes) varint(max_body_bytes) varint(available) followed
// by the first bytes of the host's buffer (up to max_header_bytes+4 of them), and returns
//
//	message Frame {
//	  uint64 consumed = 1;            // 0: read more
//	  bytes method = 2;
//	  bytes target = 3;
//	  repeated Header headers = 4;    // name = 1, value = 2
//	  uint64 content_length = 5;      // the body is buffer[consumed-content_length : consumed]
//	  bool keep_alive = 6;
//	  bool chunked = 7;               // consumed is the head; call "dechunk" on the rest
//	}
//
// or fails with the framing error's HTTP status and reason as the error's code and detail.
//
// "dechunk" takes varint(max_body_bytes) followed by the bytes after a chunked request's
// head, and returns varint(consumed) followed by the decoded body; consumed 0 asks for more.
//
// "head" takes
//
//	message Head {
//	  uint64 status = 1;
//	  repeated Header headers = 2;
//	  uint64 body_len = 3;
//	  bool keep_alive = 4;
//	}
//
// and returns the reply's status line and headers, after which the host writes the body.

// AppendFrameInput appends the "frame" operation's input.
func AppendFrameInput(dst []byte, lim Limits, buf []byte) []byte {
	dst = appendVarint(dst, uint64(lim.header()))
	dst = appendVarint(dst, uint64(lim.body()))
	dst = appendVarint(dst, uint64(len(buf)))
	return append(dst, buf[:min(len(buf), lim.header()+4)]...)
}

// DecodeFrameInput reads the "frame" operation's input.
func DecodeFrameInput(b []byte) (lim Limits, available int, prefix []byte, err error) {
	var v [3]uint64
	for i := range v {
		x, n := protowire.ConsumeVarint(b)
		if n < 0 || x > 1<<31 {
			return lim, 0, nil, fmt.Errorf("frame input: bad header %d", i)
		}
		v[i], b = x, b[n:]
	}
	lim = Limits{MaxHeaderBytes: int(v[0]), MaxBodyBytes: int(v[1])}
	return lim, int(v[2]), b, nil
}

// AppendFrame appends the "frame" operation's output.
func AppendFrame(dst []byte, n int, req *Request) []byte {
	dst = appendTag(dst, 1, protowire.VarintType)
	dst = appendVarint(dst, uint64(n))
	if n == 0 {
		return dst
	}
	dst = appendBytes(dst, 2, req.Method)
	dst = appendBytes(dst, 3, req.Target)
	dst = appendHeaders(dst, 4, req.Headers)
	dst = appendTag(dst, 5, protowire.VarintType)
	dst = appendVarint(dst, uint64(req.ContentLength))
	if req.KeepAlive {
		dst = append(dst, 6<<3|byte(protowire.VarintType), 1)
	}
	if req.Chunked {
		dst = append(dst, 7<<3|byte(protowire.VarintType), 1)
	}
	return dst
}

// AppendDechunkInput appends the "dechunk" operation's input.
func AppendDechunkInput(dst []byte, maxBody int, rest []byte) []byte {
	dst = protowire.AppendVarint(dst, uint64(maxBody))
	return append(dst, rest...)
}

// Dechunk runs the "dechunk" operation: it decodes the input in place and appends the
// output to dst.
func Dechunk(dst, in []byte) ([]byte, error) {
	maxBody, n := protowire.ConsumeVarint(in)
	if n < 0 || maxBody > 1<<31 {
		return dst, fmt.Errorf("dechunk input: bad header")
	}
	body, m, err := DecodeChunked(in[n:], int(maxBody))
	if err != nil {
		return dst, err
	}
	dst = protowire.AppendVarint(dst, uint64(m))
	return append(dst, body...), nil
}

// DecodeDechunk reads the "dechunk" operation's output: the bytes consumed (0: read more)
// and the body, a view into b.
func DecodeDechunk(b []byte) (n int, body []byte, err error) {
	v, k := protowire.ConsumeVarint(b)
	if k < 0 {
		return 0, nil, fmt.Errorf("dechunk output: %w", protowire.ParseError(k))
	}
	return int(v), b[k:], nil
}

// DecodeFrame reads the "frame" operation's output into req (whose slices become views into
// b) and returns the bytes consumed. The caller sets req.Body from its own buffer.
func DecodeFrame(b []byte, req *Request) (int, error) {
	hdrs := req.Headers[:0]
	*req = Request{}
	n := 0
	err := walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			n = int(x)
		case 2:
			req.Method = v
		case 3:
			req.Target = v
		case 4:
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			hdrs = append(hdrs, h)
		case 5:
			req.ContentLength = int(x)
		case 6:
			req.KeepAlive = x != 0
		case 7:
			req.Chunked = x != 0
		}
		return nil
	})
	req.Headers = hdrs
	if err != nil {
		return 0, err
	}
	if req.ContentLength > n {
		return 0, fmt.Errorf("frame: content length %d beyond consumed %d", req.ContentLength, n)
	}
	return n, nil
}

// AppendHeadInput appends the "head" operation's input.
func AppendHeadInput(dst []byte, status int, headers []Header, bodyLen int, keepAlive bool) []byte {
	dst = appendTag(dst, 1, protowire.VarintType)
	dst = appendVarint(dst, uint64(status))
	dst = appendHeaders(dst, 2, headers)
	dst = appendTag(dst, 3, protowire.VarintType)
	dst = appendVarint(dst, uint64(bodyLen))
	if keepAlive {
		dst = append(dst, 4<<3|byte(protowire.VarintType), 1)
	}
	return dst
}

// DecodeHeadInput reads the "head" operation's input; headers are views into b and are
// appended to hdrs.
func DecodeHeadInput(b []byte, hdrs []Header) (status int, headers []Header, bodyLen int, keepAlive bool, err error) {
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			status = int(x)
		case 2:
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			hdrs = append(hdrs, h)
		case 3:
			bodyLen = int(x)
		case 4:
			keepAlive = x != 0
		}
		return nil
	})
	return status, hdrs, bodyLen, keepAlive, err
}

// The wire forms are read and written on every request by the Wasm twin, where a function
// call costs tens of nanoseconds, so the helpers below write one-byte tags and varints (all
// the tags here, and most lengths) inline, and walk reads them inline, leaving the rest to
// protowire.

// appendTag appends a tag; every field number here is below 16, so a tag is one byte.
func appendTag(dst []byte, num protowire.Number, typ protowire.Type) []byte {
	return append(dst, byte(num)<<3|byte(typ))
}

// appendVarint appends x as a varint, values below 128 without a call.
func appendVarint(dst []byte, x uint64) []byte {
	if x < 0x80 {
		return append(dst, byte(x))
	}
	return protowire.AppendVarint(dst, x)
}

func appendBytes(dst []byte, num protowire.Number, v []byte) []byte {
	dst = appendTag(dst, num, protowire.BytesType)
	dst = appendVarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendHeaders(dst []byte, num protowire.Number, hs []Header) []byte {
	for _, h := range hs {
		size := protowire.SizeTag(1) + protowire.SizeBytes(len(h.Name)) + protowire.SizeTag(2) + protowire.SizeBytes(len(h.Value))
		dst = appendTag(dst, num, protowire.BytesType)
		dst = appendVarint(dst, uint64(size))
		dst = appendTag(dst, 1, protowire.BytesType)
		dst = appendVarint(dst, uint64(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = appendTag(dst, 2, protowire.BytesType)
		dst = appendVarint(dst, uint64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

func decodeHeader(b []byte) (Header, error) {
	var h Header
	err := walk(b, func(num protowire.Number, v []byte, _ uint64) error {
		switch num {
		case 1:
			h.Name = v
		case 2:
			h.Value = v
		}
		return nil
	})
	return h, err
}

func walk(b []byte, fn func(num protowire.Number, v []byte, x uint64) error) error {
	for len(b) > 0 {
		var num protowire.Number
		var typ protowire.Type
		n := 1
		if t := b[0]; t < 0x80 && t >= 1<<3 {
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
		} else if num, typ, n = protowire.ConsumeTag(b); n < 0 {
			return fmt.Errorf("transport wire: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch {
		case typ == protowire.VarintType && len(b) > 0 && b[0] < 0x80:
			x, n = uint64(b[0]), 1
		case typ == protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case typ == protowire.BytesType && len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b):
			n = 1 + int(b[0])
			v = b[1:n]
		case typ == protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("transport wire: field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		// Capped, so that appending to a decoded field copies it rather than writing over
		// the bytes after it.
		v = v[:len(v):len(v)]
		if err := fn(num, v, x); err != nil {
			return err
		}
	}
	return nil
}
