package component

import (
	"errors"
	"fmt"

	"github.com/microhost/microhost/abi/proto/envelope"
	"google.golang.org/protobuf/encoding/protowire"
)

// The transport kind's records (abi/proto/transport.proto), written and read by hand: the
// Wasm twin's host side and guest side both run them on every request, so they write
// one-byte tags and short varints inline. TestTransportRecordsMatchSchema checks them
// against code generated from the schema.

// AppendFrameInput appends the "frame" operation's input record, FrameInput: the limits,
// how many bytes the host has buffered, and the first of them (at most
// lim.HeaderBytes()+4, enough for any head the limits allow; the host keeps the body).
func AppendFrameInput(dst []byte, lim TransportLimits, buf []byte) []byte {
	dst = appendUint(dst, 1, uint64(lim.HeaderBytes()))
	dst = appendUint(dst, 2, uint64(lim.BodyBytes()))
	dst = appendUint(dst, 3, uint64(len(buf)))
	return appendBytes(dst, 4, buf[:min(len(buf), lim.HeaderBytes()+4)])
}

// DecodeFrameInput reads a FrameInput record; data is a view into b.
func DecodeFrameInput(b []byte) (lim TransportLimits, available int, data []byte, err error) {
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1, 2, 3:
			if x > 1<<31 {
				return fmt.Errorf("frame input: field %d: %d is too large", num, x)
			}
		}
		switch num {
		case 1:
			lim.MaxHeaderBytes = int(x)
		case 2:
			lim.MaxBodyBytes = int(x)
		case 3:
			available = int(x)
		case 4:
			data = v
		}
		return nil
	})
	if err == nil && available < len(data) {
		err = fmt.Errorf("frame input: %d bytes given but only %d available", len(data), available)
	}
	return lim, available, data, err
}

// AppendFrame appends the "frame" operation's output record, Frame: n is the bytes the
// request takes, 0 asking for more (and then nothing else is written).
func AppendFrame(dst []byte, n int, f *TransportFrame) []byte {
	dst = appendUint(dst, 1, uint64(n))
	if n == 0 {
		return dst
	}
	dst = appendBytes(dst, 2, f.Method)
	dst = appendBytes(dst, 3, f.Target)
	dst = appendHeaders(dst, 4, f.Headers)
	dst = appendUint(dst, 5, uint64(f.ContentLength))
	if f.KeepAlive {
		dst = append(dst, 6<<3|byte(protowire.VarintType), 1)
	}
	if f.Chunked {
		dst = append(dst, 7<<3|byte(protowire.VarintType), 1)
	}
	return dst
}

// DecodeFrame reads a Frame record into f (whose slices become views into b) and returns
// the bytes consumed. It leaves f.Body unset: the body is in the caller's buffer.
func DecodeFrame(b []byte, f *TransportFrame) (int, error) {
	hdrs := f.Headers[:0]
	*f = TransportFrame{}
	var n uint64
	var cl uint64
	err := walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			n = x
		case 2:
			f.Method = v
		case 3:
			f.Target = v
		case 4:
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			hdrs = append(hdrs, h)
		case 5:
			cl = x
		case 6:
			f.KeepAlive = x != 0
		case 7:
			f.Chunked = x != 0
		}
		return nil
	})
	f.Headers = hdrs
	if err != nil {
		return 0, err
	}
	if n > 1<<31 || cl > n {
		return 0, fmt.Errorf("content length %d beyond consumed %d", cl, n)
	}
	f.ContentLength = int(cl)
	return int(n), nil
}

// AppendDechunkInput appends the "dechunk" operation's input record, DechunkInput.
func AppendDechunkInput(dst []byte, maxBody int, rest []byte) []byte {
	dst = appendUint(dst, 1, uint64(maxBody))
	return appendBytes(dst, 2, rest)
}

// DecodeDechunkInput reads a DechunkInput record; data is a view into b.
func DecodeDechunkInput(b []byte) (maxBody int, data []byte, err error) {
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			if x > 1<<31 {
				return errors.New("dechunk input: max_body_bytes too large")
			}
			maxBody = int(x)
		case 2:
			data = v
		}
		return nil
	})
	return maxBody, data, err
}

// AppendDechunked appends the "dechunk" operation's output record, Dechunked: the bytes
// the coding took (0: read more) and the decoded body.
func AppendDechunked(dst []byte, n int, body []byte) []byte {
	dst = appendUint(dst, 1, uint64(n))
	if n == 0 {
		return dst
	}
	return appendBytes(dst, 2, body)
}

// DecodeDechunked reads a Dechunked record: the bytes consumed (0: read more) and the
// body, a view into b.
func DecodeDechunked(b []byte) (n int, body []byte, err error) {
	var c uint64
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			c = x
		case 2:
			body = v
		}
		return nil
	})
	if err == nil && c > 1<<31 {
		err = fmt.Errorf("dechunked: consumed %d is too large", c)
	}
	return int(c), body, err
}

// AppendHeadInput appends the "head" operation's input record, HeadInput.
func AppendHeadInput(dst []byte, status int, headers []TransportHeader, bodyLen int, keepAlive bool) []byte {
	dst = appendUint(dst, 1, uint64(status))
	dst = appendHeaders(dst, 2, headers)
	dst = appendUint(dst, 3, uint64(bodyLen))
	if keepAlive {
		dst = append(dst, 4<<3|byte(protowire.VarintType), 1)
	}
	return dst
}

// DecodeHeadInput reads a HeadInput record; the headers are views into b, appended to
// hdrs.
func DecodeHeadInput(b []byte, hdrs []TransportHeader) (status int, headers []TransportHeader, bodyLen int, keepAlive bool, err error) {
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1, 3:
			if x > 1<<31 {
				return fmt.Errorf("head input: field %d: %d is too large", num, x)
			}
		}
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

// AppendHeadOutput appends the "head" operation's output record, HeadOutput: the bytes of
// the reply's head.
func AppendHeadOutput(dst []byte, head []byte) []byte { return appendBytes(dst, 1, head) }

// DecodeHeadOutput reads a HeadOutput record; head is a view into b.
func DecodeHeadOutput(b []byte) (head []byte, err error) {
	err = walk(b, func(num protowire.Number, v []byte, _ uint64) error {
		if num == 1 {
			head = v
		}
		return nil
	})
	return head, err
}

// AppendRequestInput appends the "request" operation's input record, RequestInput.
func AppendRequestInput(dst []byte, host string, headers []TransportHeader, bodyLen int) []byte {
	if host != "" {
		dst = appendTag(dst, 1, protowire.BytesType)
		dst = appendVarint(dst, uint64(len(host)))
		dst = append(dst, host...)
	}
	dst = appendHeaders(dst, 2, headers)
	return appendUint(dst, 3, uint64(bodyLen))
}

// DecodeRequestInput reads a RequestInput record; host and the headers are views into b,
// the headers appended to hdrs.
func DecodeRequestInput(b []byte, hdrs []TransportHeader) (host []byte, headers []TransportHeader, bodyLen int, err error) {
	err = walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			host = v
		case 2:
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			hdrs = append(hdrs, h)
		case 3:
			if x > 1<<31 {
				return fmt.Errorf("request input: body_len %d is too large", x)
			}
			bodyLen = int(x)
		}
		return nil
	})
	return host, hdrs, bodyLen, err
}

// AppendResponse appends the "response" operation's output record, Response: n is the
// bytes the reply takes, 0 asking for more (and then nothing else is written).
func AppendResponse(dst []byte, n int, r *TransportResponse) []byte {
	dst = appendUint(dst, 1, uint64(n))
	if n == 0 {
		return dst
	}
	dst = appendUint(dst, 2, uint64(r.Status))
	dst = appendHeaders(dst, 3, r.Headers)
	dst = appendUint(dst, 4, uint64(r.ContentLength))
	if r.KeepAlive {
		dst = append(dst, 5<<3|byte(protowire.VarintType), 1)
	}
	if r.Chunked {
		dst = append(dst, 6<<3|byte(protowire.VarintType), 1)
	}
	return dst
}

// DecodeResponse reads a Response record into r (whose slices become views into b) and
// returns the bytes consumed. It leaves r.Body unset: the body is in the caller's buffer.
func DecodeResponse(b []byte, r *TransportResponse) (int, error) {
	hdrs := r.Headers[:0]
	*r = TransportResponse{}
	var n, cl, status uint64
	err := walk(b, func(num protowire.Number, v []byte, x uint64) error {
		switch num {
		case 1:
			n = x
		case 2:
			status = x
		case 3:
			h, err := decodeHeader(v)
			if err != nil {
				return err
			}
			hdrs = append(hdrs, h)
		case 4:
			cl = x
		case 5:
			r.KeepAlive = x != 0
		case 6:
			r.Chunked = x != 0
		}
		return nil
	})
	r.Headers = hdrs
	if err != nil {
		return 0, err
	}
	if n > 1<<31 || cl > n {
		return 0, fmt.Errorf("content length %d beyond consumed %d", cl, n)
	}
	if n > 0 && (status < 100 || status > 999) {
		return 0, fmt.Errorf("status %d out of range", status)
	}
	r.Status, r.ContentLength = int(status), int(cl)
	return int(n), nil
}

func appendTag(dst []byte, num protowire.Number, typ protowire.Type) []byte {
	return append(dst, byte(num)<<3|byte(typ)) // every field number here is below 16
}

func appendVarint(dst []byte, x uint64) []byte {
	if x < 0x80 {
		return append(dst, byte(x))
	}
	return protowire.AppendVarint(dst, x)
}

// appendUint appends a varint field, omitting it when x is zero (proto3's default).
func appendUint(dst []byte, num protowire.Number, x uint64) []byte {
	if x == 0 {
		return dst
	}
	return appendVarint(appendTag(dst, num, protowire.VarintType), x)
}

// appendBytes appends a bytes field, omitting it when v is empty (proto3's default).
func appendBytes(dst []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return dst
	}
	dst = appendTag(dst, num, protowire.BytesType)
	dst = appendVarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendHeaders(dst []byte, num protowire.Number, hs []TransportHeader) []byte {
	for _, h := range hs {
		size := 0
		if len(h.Name) > 0 {
			size += 1 + protowire.SizeBytes(len(h.Name))
		}
		if len(h.Value) > 0 {
			size += 1 + protowire.SizeBytes(len(h.Value))
		}
		dst = appendTag(dst, num, protowire.BytesType)
		dst = appendVarint(dst, uint64(size))
		dst = appendBytes(dst, 1, h.Name)
		dst = appendBytes(dst, 2, h.Value)
	}
	return dst
}

func decodeHeader(b []byte) (TransportHeader, error) {
	var h TransportHeader
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

// walk calls fn for each field of the record b: v for a bytes field (capped, so appending
// to it copies), x for a varint. Fields of other wire types are skipped.
func walk(b []byte, fn func(num protowire.Number, v []byte, x uint64) error) error {
	for len(b) > 0 {
		var num protowire.Number
		var typ protowire.Type
		n := 1
		if t := b[0]; t < 0x80 && t >= 1<<3 {
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
		} else if num, typ, n = protowire.ConsumeTag(b); n < 0 {
			return fmt.Errorf("transport record: %w", envelope.WireError(n))
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
			return fmt.Errorf("transport record: field %d: %w", num, envelope.WireError(n))
		}
		b = b[n:]
		v = v[:len(v):len(v)]
		if err := fn(num, v, x); err != nil {
			return err
		}
	}
	return nil
}
