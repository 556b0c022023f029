package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRequestObservation is what one served request costs the service's observation:
// its server observation, its module call's and one client call's, with everything off (a
// nil *Telemetry), metrics on, and metrics and tracing on (spans exported in batches over
// OTLP/HTTP to a receiver on 127.0.0.1 that discards them).
func BenchmarkRequestObservation(b *testing.B) {
	run := func(b *testing.B, tel *Telemetry) {
		m := tel.Module(ModuleInfo{Kind: "handler", Name: "greeter"})
		hdr := func(string) string { return "" }
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			sctx, s := tel.StartServe(ctx, hdr)
			mctx, mc := m.Start(sctx, "Greeter.Hello")
			_, c := tel.StartCall(mctx, "other", "Other.Do")
			c.End(200)
			mc.End(OK, nil)
			s.End("Greeter.Hello", 200)
		}
	}
	b.Run("off", func(b *testing.B) { run(b, nil) })
	b.Run("metrics", func(b *testing.B) {
		tel, err := New(context.Background(), Options{Service: "greeter", Metrics: true})
		if err != nil {
			b.Fatal(err)
		}
		run(b, tel)
	})
	b.Run("metrics+tracing", func(b *testing.B) {
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		defer sink.Close()
		tel, err := New(context.Background(), Options{Service: "greeter", Metrics: true, Exporter: ExporterOTLP, Endpoint: sink.URL})
		if err != nil {
			b.Fatal(err)
		}
		defer tel.Close(context.Background())
		run(b, tel)
	})
}
