//go:build wasip1

// Command outboundguest exercises the outbound-HTTP host functions in tests. Its "raw"
// operation hands the request body, an HTTP/1.1 request message, to http_request as is and
// answers with the response message, or fails with 502 and the host's error message.
package main

import (
	"unsafe"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

//go:wasmimport microhost http_request
func httpRequest(req unsafe.Pointer, reqLen uint32) int32

//go:wasmimport microhost http_response_read
func httpResponseRead(buf unsafe.Pointer, capacity uint32) uint32

// held copies the held bytes out, first checking the "copy if it fits" rule with a buffer
// that is too small.
func held() ([]byte, error) {
	var small [4]byte
	n := httpResponseRead(unsafe.Pointer(&small[0]), uint32(len(small)))
	if n <= uint32(len(small)) {
		return small[:n], nil
	}
	if small != [4]byte{} {
		return nil, guest.Errorf(500, "http_response_read wrote into a buffer too small")
	}
	b := make([]byte, n)
	if got := httpResponseRead(unsafe.Pointer(&b[0]), n); got != n {
		return nil, guest.Errorf(500, "length changed from %d to %d", n, got)
	}
	return b, nil
}

func raw(req *guest.Request) ([]byte, error) {
	var p unsafe.Pointer
	if len(req.Body) > 0 {
		p = unsafe.Pointer(&req.Body[0])
	}
	status := httpRequest(p, uint32(len(req.Body)))
	b, err := held()
	if err != nil {
		return nil, err
	}
	if status < 0 {
		return nil, guest.Errorf(502, "%s", b)
	}
	if int(status) != len(b) {
		return nil, guest.Errorf(500, "http_request said %d bytes, read %d", status, len(b))
	}
	return b, nil
}

func init() {
	guest.DescribeKind(abi.KindHandler, "outboundguest", "1.0.0")
	guest.Handle("raw", raw)
}

func main() {}
