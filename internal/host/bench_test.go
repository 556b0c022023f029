package host

import (
	"context"
	"testing"
)

// BenchmarkGreeterCall measures one host→guest handler call of the Go greeter on a warm
// instance: copying the request in, the guest's JSON decode and encode, and the reply out.
func BenchmarkGreeterCall(b *testing.B) {
	m := load(b, newRuntime(b, nil), greeterWasm, ModuleOptions{PoolSize: 1})
	req := &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGreeterCallProtobuf is BenchmarkGreeterCall in protobuf: the generated protobuf
// methods of the greeter's messages inside the guest.
func BenchmarkGreeterCallProtobuf(b *testing.B) {
	m := load(b, newRuntime(b, nil), greeterWasm, ModuleOptions{PoolSize: 1})
	req := &Request{Endpoint: "Greeter.Hello", ContentType: "application/protobuf", Body: []byte("\x0a\x04John")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoCall measures the ABI's own overhead: a guest that echoes 64 bytes, with the
// interrupt-on-deadline setting off and on.
func BenchmarkEchoCall(b *testing.B) {
	for _, interrupt := range []bool{false, true} {
		name := "interrupt=off"
		if interrupt {
			name = "interrupt=on"
		}
		b.Run(name, func(b *testing.B) {
			m := load(b, newRuntime(b, nil), testguestWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: interrupt})
			req := &Request{Endpoint: "Test.Echo", Body: make([]byte, 64)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGreeterParallel runs the greeter from GOMAXPROCS goroutines over a pool of that
// many instances.
func BenchmarkGreeterParallel(b *testing.B) {
	m := load(b, newRuntime(b, nil), greeterWasm, ModuleOptions{})
	req := &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := m.Call(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkNoopCall is the floor of a call into a Go guest through the SDK: an endpoint
// that does nothing.
func BenchmarkNoopCall(b *testing.B) {
	m := load(b, newRuntime(b, nil), testguestWasm, ModuleOptions{PoolSize: 1})
	req := &Request{Endpoint: "Test.Noop"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadGreeter is the Go greeter's share of a service's start-up: a new Runtime on a
// warm compilation cache, the module loaded as handlers are (with deadline checks, one
// instance), its first call, and Close. Run it with -cpuprofile to see where start-up goes.
func BenchmarkLoadGreeter(b *testing.B) {
	ctx := context.Background()
	req := &Request{Endpoint: "Greeter.Hello", ContentType: "application/json", Body: []byte(`{"name":"John"}`)}
	warm := newRuntime(b, nil)
	load(b, warm, greeterWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewRuntime(ctx, Options{CacheDir: testCacheDir})
		if err != nil {
			b.Fatal(err)
		}
		m, err := r.Load(ctx, greeterWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
		_ = r.Close(ctx)
	}
}
