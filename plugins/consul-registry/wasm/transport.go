//go:build wasip1

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"unsafe"
)

// The outbound-HTTP capability (abi/ABI.md, "Outbound HTTP"): the host performs the request if its host is in
// this module's grant and holds the response until it is read.

//go:wasmimport microhost http_request
func hostHTTPRequest(req unsafe.Pointer, reqLen uint32) int32

//go:wasmimport microhost http_response_read
func hostHTTPResponseRead(buf unsafe.Pointer, capacity uint32) uint32

// hostTransport is an http.RoundTripper whose requests the host makes. A request blocks the
// module until the answer arrives or the call's deadline passes.
type hostTransport struct{}

// RoundTrip writes req in HTTP/1.1 form with an absolute URI, hands it to the host and
// parses the response message the host returns.
func (hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var msg bytes.Buffer
	if err := req.WriteProxy(&msg); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	b := msg.Bytes()
	n := hostHTTPRequest(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
	if n < 0 {
		return nil, errors.New(string(readHeld()))
	}
	rsp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(readHeld())), req)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return rsp, nil
}

// readHeld copies the held response (or error message) out of the host: a probe for its
// length, then the copy.
func readHeld() []byte {
	n := hostHTTPResponseRead(nil, 0)
	if n == 0 {
		return nil
	}
	buf := make([]byte, n)
	hostHTTPResponseRead(unsafe.Pointer(&buf[0]), n)
	return buf
}
