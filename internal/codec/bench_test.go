package codec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
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
					encodeDecode(b, twin.p, ct, size)
				})
			}
		}
	}
}

// BenchmarkRustJSONCodec is BenchmarkCodec's json-codec rows for the Rust JSON codec
// (plugins/json-codec-rust), a Wasm build in another language that the differential test
// holds to the stock codec's bytes: what a leaner Wasm build buys per call.
func BenchmarkRustJSONCodec(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := guestbuild.Rust(ctx, "./plugins/json-codec-rust", dir); err != nil {
		if errors.Is(err, guestbuild.ErrToolMissing) {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	l, err := Load(ctx, rt, Setup{Dir: dir, Modules: []string{"json-codec-rust"}, Mode: ModeWasm, PoolSize: 2, Catalogue: stockCatalogue(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	c, ok := l.Registry.Lookup("application/json")
	if !ok {
		b.Fatal("the Rust codec does not serve application/json")
	}
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB/wasm-rust", size), func(b *testing.B) {
			encodeDecode(b, c.Plugin(), "application/json", size)
		})
	}
}

// encodeDecode encodes a request of about size bytes with p and decodes it again, b.N times.
func encodeDecode(b *testing.B, p Plugin, ct string, size int) {
	ctx := context.Background()
	req := envelope.Message{Type: envelope.Request, ID: []byte("1234567890"), Endpoint: []byte("Greeter.Hello"), ContentType: []byte(ct), Body: benchBody(ct, size)}
	wire := make([]byte, 0, 2*size+128)
	dst := make([]byte, 0, 128)
	var in, out envelope.Message
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if wire, err = p.Encode(ctx, wire[:0], &req); err != nil {
			b.Fatal(err)
		}
		in = envelope.Message{Type: envelope.Request, ContentType: req.ContentType, Body: wire}
		if dst, err = p.Decode(ctx, dst[:0], &in, &out); err != nil {
			b.Fatal(err)
		}
	}
}
