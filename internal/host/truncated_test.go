package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTruncated(t *testing.T) {
	// A header, a type section of 4 bytes (one func type () -> ()) and a custom section.
	whole := append(append([]byte{}, wasmHeader...), 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x00, 0x02, 0x01, 'x')
	assert.False(t, Truncated(whole), "a whole module")
	for cut := 1; cut < len(whole); cut++ {
		if cut == 14 { // ends between sections: a whole, shorter module
			continue
		}
		assert.True(t, Truncated(whole[:cut]), "cut at %d bytes", cut)
	}
	assert.False(t, Truncated(nil), "empty is not a module at all")
	assert.False(t, Truncated([]byte("not wasm at all")), "garbage")
	assert.False(t, Truncated(append(append([]byte{}, wasmHeader...), 0x01, 0xff, 0xff, 0xff, 0xff, 0x7f)), "a size over 32 bits is malformed, not cut")
}
