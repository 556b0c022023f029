package httptransport

import (
	"context"
	"errors"
	"fmt"

	"github.com/microhost/microhost/host/component"
)

// Name is the plugin's name: its module is http-transport.wasm and its native twin is the
// transport named so in the catalogue.
const Name = "http-transport"

// Twin returns the plugin's native twin.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindTransport, Name: Name, Native: component.TransportTwin{
		NewFramer: func() component.Framer { return Framer{} },
	}}
}

// Framer is the plugin as a component.Framer: the native twin. It holds nothing, so one
// value serves any number of connections.
type Framer struct{}

// Frame implements component.Framer.
func (Framer) Frame(_ context.Context, buf []byte, lim Limits, f *Request) (int, error) {
	return ParseRequest(buf, lim, f)
}

// Head implements component.Framer.
func (Framer) Head(_ context.Context, dst []byte, status int, headers []Header, bodyLen int, keepAlive bool) ([]byte, error) {
	return AppendResponseHead(dst, status, headers, bodyLen, keepAlive), nil
}

// Request implements component.Framer.
func (Framer) Request(_ context.Context, dst []byte, host string, headers []Header, bodyLen int) ([]byte, error) {
	return AppendRequestHead(dst, host, headers, bodyLen), nil
}

// Response implements component.Framer.
func (Framer) Response(_ context.Context, buf []byte, lim Limits, r *Response) (int, error) {
	return ParseResponse(buf, lim, r)
}

// Ops serves the transport kind's operations over their records (abi/transport.md), as
// the Wasm twin does; it keeps scratch space, so each instance needs its own.
type Ops struct {
	req Request
	rsp Response
	hdr []Header
	out []byte
	tmp []byte
}

// Frame runs the "frame" operation: a FrameInput record in, a Frame record out (a view
// into the Ops' scratch space, valid until the next call).
func (o *Ops) Frame(in []byte) ([]byte, error) {
	lim, available, prefix, err := component.DecodeFrameInput(in)
	if err != nil {
		return nil, err
	}
	n, err := ParsePrefix(prefix, available, lim, &o.req)
	if err != nil {
		return nil, err
	}
	o.out = component.AppendFrame(o.out[:0], n, &o.req)
	return o.out, nil
}

// Dechunk runs the "dechunk" operation: a DechunkInput record in (decoded in place), a
// Dechunked record out.
func (o *Ops) Dechunk(in []byte) ([]byte, error) {
	maxBody, data, err := component.DecodeDechunkInput(in)
	if err != nil {
		return nil, err
	}
	if maxBody <= 0 {
		maxBody = component.DefaultTransportMaxBodyBytes
	}
	body, n, err := DecodeChunked(data, maxBody)
	if err != nil {
		return nil, err
	}
	o.out = component.AppendDechunked(o.out[:0], n, body)
	return o.out, nil
}

// Head runs the "head" operation: a HeadInput record in, a HeadOutput record out.
func (o *Ops) Head(in []byte) ([]byte, error) {
	status, headers, bodyLen, keepAlive, err := component.DecodeHeadInput(in, o.hdr[:0])
	if err != nil {
		return nil, err
	}
	o.hdr = headers
	if status < 100 || status > 999 {
		return nil, fmt.Errorf("head: status %d out of range", status)
	}
	o.tmp = AppendResponseHead(o.tmp[:0], status, headers, bodyLen, keepAlive)
	o.out = component.AppendHeadOutput(o.out[:0], o.tmp)
	return o.out, nil
}

// Request runs the "request" operation: a RequestInput record in, a HeadOutput record out.
func (o *Ops) Request(in []byte) ([]byte, error) {
	host, headers, bodyLen, err := component.DecodeRequestInput(in, o.hdr[:0])
	if err != nil {
		return nil, err
	}
	o.hdr = headers
	o.tmp = AppendRequestHead(o.tmp[:0], string(host), headers, bodyLen)
	o.out = component.AppendHeadOutput(o.out[:0], o.tmp)
	return o.out, nil
}

// Response runs the "response" operation: a FrameInput record in, a Response record out.
func (o *Ops) Response(in []byte) ([]byte, error) {
	lim, available, prefix, err := component.DecodeFrameInput(in)
	if err != nil {
		return nil, err
	}
	n, err := ParseResponsePrefix(prefix, available, lim, &o.rsp)
	if err != nil {
		return nil, err
	}
	o.out = component.AppendResponse(o.out[:0], n, &o.rsp)
	return o.out, nil
}

// Status returns the HTTP status a failed operation reports: a framing error's own, 400
// for a bad record.
func Status(err error) (int, string) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Status, fe.Reason
	}
	return 400, err.Error()
}
