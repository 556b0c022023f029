package registry

import (
	"context"
	"testing"
	"time"

	"github.com/microhost/microhost/internal/consultest"
	"github.com/microhost/microhost/internal/registrycache"
)

// BenchmarkConsulLookup compares a lookup served by the registry cache with a cold lookup
// that asks the agent (a health query over HTTP), in both modes.
//
//	go test -run '^$' -bench Lookup -benchmem ./internal/registry/
func BenchmarkConsulLookup(b *testing.B) {
	agent := consultest.Start(b)
	ctx := context.Background()
	for _, mode := range modes {
		r := openConsul(b, agent, mode, Options{})
		name := "bench-" + string(mode)
		if err := r.Register(ctx, record(name, name+"-1", 1), time.Minute); err != nil {
			b.Fatal(err)
		}
		for i := 0; ; i++ {
			if _, err := r.GetService(ctx, name); err == nil {
				break
			} else if i == 500 {
				b.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // the agent syncs the registration
		}
		b.Run("cold/"+string(mode), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.GetService(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cache/"+string(mode), func(b *testing.B) {
			cache := registrycache.New(r, registrycache.Options{})
			defer cache.Close()
			if _, err := cache.GetService(ctx, name); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := cache.GetService(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLocalLookup is the same for the embedded registry.
func BenchmarkLocalLookup(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	for _, mode := range modes {
		r, err := openWith(b, Options{Dir: dir, Mode: mode})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close(ctx) })
		name := "bench-" + string(mode)
		if err := r.Register(ctx, record(name, name+"-1", 1), time.Minute); err != nil {
			b.Fatal(err)
		}
		b.Run("cold/"+string(mode), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.GetService(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
