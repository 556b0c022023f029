package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/broker"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// BenchmarkPublish measures publish→deliver over loopback HTTP with the broker protocol
// native and in Wasm, for one subscriber: "serial" is the latency of one publication
// (ns/op), "parallel" the throughput with GOMAXPROCS×4 publishers (msgs/s). The subscriber
// is the Wasm example subscriber module in both, so only the protocol differs.
func BenchmarkPublish(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			_, s := e.subscribe(mode, "events", "")
			pub := e.broker(mode, func(o *broker.Options) { o.LookupTTL = time.Second })
			msg := &broker.Message{Body: []byte(`{"order":42,"item":"book"}`)}
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				start := time.Now()
				for b.Loop() {
					if err := pub.Publish(ctx, "events", msg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4)
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := pub.Publish(ctx, "events", msg); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
			require.Zero(b, pub.Stats().Dropped)
			require.Positive(b, s.Received())
		})
	}
}

// BenchmarkProtocol measures the protocol operations alone, native and in Wasm.
func BenchmarkProtocol(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			p := e.protocol(mode)
			ctx := context.Background()
			msg := benchMessage()
			body, err := p.Encode(ctx, msg)
			require.NoError(b, err)
			b.Run("encode", func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Encode(ctx, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parse", func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Parse(ctx, &component.BrokerParseRequest{Method: "POST", Query: "id=events-broker-1", ContentType: "application/json", Body: body}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("route", func(b *testing.B) {
				req := benchRoute()
				for b.Loop() {
					if _, err := p.Route(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func benchMessage() *httpbroker.Message {
	return &httpbroker.Message{
		Topic:  "events",
		Header: map[string]string{"Content-Type": "application/json", "Micro-Id": "6f1c9f5e-1d2b-4c1e-9a57-0b8c1c2d3e4f"},
		Body:   []byte(`{"order":42,"item":"book"}`),
	}
}

// benchRoute is a registry answer with three broadcast subscribers and a queue group of two.
func benchRoute() *httpbroker.RouteRequest {
	node := func(id string) abi.Node {
		return abi.Node{ID: id, Address: "127.0.0.1:9000", Metadata: map[string]string{"broker": "http", "topic": "events", "secure": "false"}}
	}
	return &httpbroker.RouteRequest{Topic: "events", Seed: 7, Services: []*abi.Service{
		{Name: httpbroker.ServiceName, Version: httpbroker.BroadcastVersion, Nodes: []abi.Node{node("a"), node("b"), node("c")}},
		{Name: httpbroker.ServiceName, Version: "workers", Nodes: []abi.Node{node("d"), node("e")}},
	}}
}
