package host

import "bytes"

// wasmHeader is the magic number and version 1 every WebAssembly binary starts with.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Truncated reports whether wasm starts as a WebAssembly binary but is cut short: it is the
// header alone, or a section's declared size runs past the end of the data (or the end falls
// inside a section's header), as an interrupted copy or download leaves a module. It reads
// only the section headers, so it answers in time linear in the number of sections.
func Truncated(wasm []byte) bool {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return len(wasm) < len(wasmHeader) && bytes.HasPrefix(wasmHeader, wasm) && len(wasm) > 0
	}
	rest := wasm[len(wasmHeader):]
	if len(rest) == 0 {
		return true
	}
	for len(rest) > 0 {
		rest = rest[1:] // section id
		size, n, ok := uleb32(rest)
		if !ok {
			return n < 0 // the data ends inside the size; otherwise it is malformed
		}
		rest = rest[n:]
		if uint64(size) > uint64(len(rest)) {
			return true
		}
		rest = rest[size:]
	}
	return false
}

// uleb32 decodes an unsigned LEB128 of at most 5 bytes from b: the value, the bytes read and
// whether it was complete and in range; the bytes read are -1 when b ends inside it.
func uleb32(b []byte) (uint32, int, bool) {
	var v uint64
	for i := 0; i < 5; i++ {
		if i == len(b) {
			return 0, -1, false
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return uint32(v), i + 1, v <= 0xffffffff
		}
	}
	return 0, 5, false
}
