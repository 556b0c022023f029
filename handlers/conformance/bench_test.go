//go:build !wasip1

package conformance_test

import (
	"context"
	"testing"

	"github.com/microhost/microhost/internal/host"
)

// BenchmarkGreeterCall measures one Greeter.Hello call through host.Module.Call in each
// language on a warm instance, and reports as instance-bytes the linear memory of a fresh
// instance after its first call.
//
//	go test -run '^$' -bench BenchmarkGreeterCall -benchmem ./handlers/conformance/
func BenchmarkGreeterCall(b *testing.B) {
	ctx := context.Background()
	req := &host.Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)}
	firstCallMemory := map[string]uint32{}
	for name, m := range load(b) {
		if _, err := m.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
		mem, err := m.InstanceMemoryBytes(ctx)
		if err != nil {
			b.Fatal(err)
		}
		firstCallMemory[name] = mem
	}
	mods := load(b)
	for _, l := range languages {
		b.Run(l.name, func(b *testing.B) {
			m := mods[l.name]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(firstCallMemory[l.name]), "instance-bytes")
		})
	}
}
