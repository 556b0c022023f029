package codec

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/microhost/microhost/abi/proto/envelope"
)

// benchBody returns a body of about n bytes in the codec's bare encoding.
func benchBody(ct string, n int) []byte {
	if strings.Contains(ct, "json") {
		return []byte(`{"name":"` + strings.Repeat("x", n-11) + `"}`)
	}
	return protoString(1, strings.Repeat("x", n-3))
}

// BenchmarkCodec encodes a request and decodes it again, per codec and twin, for 64-byte and
// 1 KiB bodies. The native twin reuses its buffers and should report 0 allocs/op.
func BenchmarkCodec(b *testing.B) {
	ctx := context.Background()
	l := loadWasm(b)
	for _, s := range stockTwins(b) {
		ct := s.ContentTypes[0]
		wasm, _ := l.Registry.Lookup(ct)
		for _, size := range []int{64, 1024} {
			for _, twin := range []struct {
				name string
				p    Plugin
			}{{"native", s.Codec}, {"wasm", wasm.Plugin()}} {
				b.Run(fmt.Sprintf("%s/%dB/%s", s.Name, size, twin.name), func(b *testing.B) {
					req := envelope.Message{Type: envelope.Request, ID: []byte("1234567890"), Endpoint: []byte("Greeter.Hello"), ContentType: []byte(ct), Body: benchBody(ct, size)}
					wire := make([]byte, 0, 2*size+128)
					dst := make([]byte, 0, 128)
					var in, out envelope.Message
					b.SetBytes(int64(size))
					b.ReportAllocs()
					for b.Loop() {
						var err error
						if wire, err = twin.p.Encode(ctx, wire[:0], &req); err != nil {
							b.Fatal(err)
						}
						in = envelope.Message{Type: envelope.Request, ContentType: req.ContentType, Body: wire}
						if dst, err = twin.p.Decode(ctx, dst[:0], &in, &out); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
