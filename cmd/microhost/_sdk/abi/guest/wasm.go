//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/microhost/microhost/abi"
)

//go:wasmimport microhost request_endpoint
func hostRequestEndpoint(buf unsafe.Pointer, capacity uint32) uint32

//go:wasmimport microhost request_body
func hostRequestBody(buf unsafe.Pointer, capacity uint32) uint32

//go:wasmimport microhost request_header
func hostRequestHeader(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport microhost response_body
func hostResponseBody(ptr unsafe.Pointer, length uint32)

//go:wasmimport microhost response_header
func hostResponseHeader(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32)

//go:wasmimport microhost error
func hostError(code int32, detail unsafe.Pointer, detailLen uint32)

//go:wasmimport microhost log
func hostLog(level int32, msg unsafe.Pointer, msgLen uint32)

// descriptor is kept alive here so the pointer microhost_describe returns stays valid.
var descriptor []byte

// scratch is reused between calls for the endpoint and the body, so a warm instance does not
// allocate for its input; current is the request being served.
var (
	scratch []byte
	current Request
)

//go:wasmexport microhost_abi_version_1
func abiVersion1() {}

//go:wasmexport microhost_describe
func describe() uint64 {
	descriptor = descriptorJSON()
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(descriptor))))<<32 | uint64(len(descriptor))
}

//go:wasmexport microhost_handle
func handle(endpointLen, bodyLen uint32) uint32 {
	n := int(endpointLen) + int(bodyLen)
	if cap(scratch) < n+1 {
		scratch = make([]byte, n+1)
	}
	buf := scratch[:n+1]
	hostRequestEndpoint(unsafe.Pointer(&buf[0]), endpointLen)
	if bodyLen > 0 {
		// An empty body needs no host call: each costs a trip out of the guest and back.
		hostRequestBody(unsafe.Pointer(&buf[endpointLen]), bodyLen)
	}
	// The request is reused between calls (Body is documented as valid only during the
	// call), and one map lookup by the endpoint's bytes gives both the registered name and
	// its handler, so a call allocates nothing here. An unknown endpoint is answered by
	// dispatch with a 404.
	req := &current
	*req = Request{Body: buf[endpointLen:n:n], header: header, setHeader: setHeader}
	var body []byte
	var err *Error
	if e, ok := registered.handlers[string(buf[:endpointLen])]; ok {
		req.Endpoint = e.name
		body, err = run(e.h, req)
	} else {
		req.Endpoint = string(buf[:endpointLen])
		body, err = dispatch(req)
	}
	if err != nil {
		hostError(err.Code, unsafe.Pointer(unsafe.StringData(err.Detail)), uint32(len(err.Detail)))
		return abi.StatusError
	}
	if len(body) > 0 {
		hostResponseBody(unsafe.Pointer(&body[0]), uint32(len(body)))
	}
	return abi.StatusOK
}

func setHeader(key, value string) {
	hostResponseHeader(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), unsafe.Pointer(unsafe.StringData(value)), uint32(len(value)))
}

func header(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	var small [256]byte
	n := hostRequestHeader(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), unsafe.Pointer(&small[0]), uint32(len(small)))
	if n < 0 {
		return "", false
	}
	if int(n) <= len(small) {
		return string(small[:n]), true
	}
	big := make([]byte, n)
	hostRequestHeader(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), unsafe.Pointer(&big[0]), uint32(n))
	return string(big), true
}

// Log writes msg to the host's log at level (abi.LogDebug … abi.LogError), tagged with the
// module's name.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}
