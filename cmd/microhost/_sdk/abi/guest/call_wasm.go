//go:build wasip1

package guest

import "unsafe"

//go:wasmimport microhost call
func hostCall(service unsafe.Pointer, serviceLen uint32, endpoint unsafe.Pointer, endpointLen uint32,
	contentType unsafe.Pointer, contentTypeLen uint32, body unsafe.Pointer, bodyLen uint32) int32

//go:wasmimport microhost call_result
func hostCallResult(buf unsafe.Pointer, capacity uint32) int32

// call makes the call and fetches its result: the reply body, or the error.
func call(service, endpoint, contentType string, body []byte) ([]byte, *Error) {
	n := hostCall(unsafe.Pointer(unsafe.StringData(service)), uint32(len(service)),
		unsafe.Pointer(unsafe.StringData(endpoint)), uint32(len(endpoint)),
		unsafe.Pointer(unsafe.StringData(contentType)), uint32(len(contentType)),
		unsafe.Pointer(unsafe.SliceData(body)), uint32(len(body)))
	failed := n < 0
	if failed {
		n = hostCallResult(nil, 0)
	}
	result := []byte{}
	if n > 0 {
		result = make([]byte, n)
		hostCallResult(unsafe.Pointer(&result[0]), uint32(n))
	}
	if failed {
		return nil, callError(result)
	}
	return result, nil
}
