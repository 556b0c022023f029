package service

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/localregistry"
)

// BenchmarkObserve is a greeter call end to end (as BenchmarkGreeterLoopback) with the
// observability off, with metrics on and tracing off (the default), and with tracing on
// too, exporting batches over OTLP/HTTP to a receiver on 127.0.0.1 that discards them.
func BenchmarkObserve(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	for _, bc := range []struct {
		name string
		set  func(*config.Config)
	}{
		{"none", func(c *config.Config) { c.Admin.Address = config.AdminOff }},
		{"metrics", func(*config.Config) {}},
		{"metrics+tracing", func(c *config.Config) { c.Tracing.Exporter, c.Tracing.Endpoint = "otlp", sink.URL }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			regDir := b.TempDir()
			reg, err := localregistry.New(regDir)
			require.NoError(b, err)
			cfg := greeterConfig(b, regDir)
			bc.set(cfg)
			ctx, cancel := context.WithCancel(context.Background())
			svc, err := New(ctx, cfg, Deps{Registry: reg, Catalogue: stockCatalogue(b)})
			require.NoError(b, err)
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx) }()
			defer func() {
				cancel()
				<-done
				_ = svc.Close(context.Background())
			}()
			c := client.New(nil, client.Options{Codecs: stockCodecs()})
			req := &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"John"}`)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.CallAddress(ctx, svc.Addr(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
