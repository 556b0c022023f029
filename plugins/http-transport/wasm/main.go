// Command wasm is the HTTP transport compiled to http-transport.wasm. Its operations,
// "frame" and "head", are described in the package's wire.go.
package main

import (
	"errors"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	httptransport "github.com/microhost/microhost/plugins/http-transport"
)

// Reused between calls on an instance.
var (
	req httptransport.Request
	hdr []httptransport.Header
	out []byte
)

func init() {
	guest.DescribeKind(abi.KindTransport, "http", "1.0.0")
	guest.Handle("frame", func(r *guest.Request) ([]byte, error) {
		lim, available, prefix, err := httptransport.DecodeFrameInput(r.Body)
		if err != nil {
			return nil, guest.BadRequest("%v", err)
		}
		n, err := httptransport.ParsePrefix(prefix, available, lim, &req)
		if err != nil {
			var fe *httptransport.Error
			if errors.As(err, &fe) {
				return nil, guest.Errorf(int32(fe.Status), "%s", fe.Reason)
			}
			return nil, err
		}
		out = httptransport.AppendFrame(out[:0], n, &req)
		return out, nil
	})
	guest.Handle("dechunk", func(r *guest.Request) ([]byte, error) {
		var err error
		out, err = httptransport.Dechunk(out[:0], r.Body)
		if err != nil {
			var fe *httptransport.Error
			if errors.As(err, &fe) {
				return nil, guest.Errorf(int32(fe.Status), "%s", fe.Reason)
			}
			return nil, guest.BadRequest("%v", err)
		}
		return out, nil
	})
	guest.Handle("head", func(r *guest.Request) ([]byte, error) {
		status, headers, bodyLen, keepAlive, err := httptransport.DecodeHeadInput(r.Body, hdr[:0])
		if err != nil {
			return nil, guest.BadRequest("%v", err)
		}
		hdr = headers
		out = httptransport.AppendResponseHead(out[:0], status, headers, bodyLen, keepAlive)
		return out, nil
	})
}

func main() {}
