package httpbroker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// wireOp is an operation the Wasm plugin answers from the record's wire form, with a
// generator of records for it.
type wireOp struct {
	op     string
	wire   func(dst, in []byte) ([]byte, bool, error)
	random func(*rand.Rand) []byte
}

var wireOps = []wireOp{
	{component.BrokerOpEncode, httpbroker.EncodeWire, randomMessage},
	{component.BrokerOpRoute, httpbroker.RouteWire, randomRoute},
}

// sameAnswer requires w's wire-form answer to the record in to be component.HandleBroker's
// with the native protocol: the same bytes or the same error; and that it leaves to the
// decoder only records the decoder refuses.
func sameAnswer(t testing.TB, w wireOp, in []byte) {
	t.Helper()
	want, wantErr := component.HandleBroker(context.Background(), httpbroker.Protocol{}, w.op, in)
	got, ok, gotErr := w.wire(nil, in)
	if !ok {
		require.ErrorContains(t, wantErr, "malformed input", "%s left a record the decoder reads: %x", w.op, in)
		return
	}
	if wantErr != nil {
		require.Error(t, gotErr, "%s %x", w.op, in)
		require.Equal(t, wantErr.Error(), gotErr.Error(), "%s %x", w.op, in)
		return
	}
	require.NoError(t, gotErr, "%s %x", w.op, in)
	require.Equal(t, want, got, "%s %x", w.op, in)
}

// randomRoute returns a route request of a few services with clashing ids, versions and
// metadata, as a record, sometimes with fields repeated or out of the writer's order.
func randomRoute(r *rand.Rand) []byte {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	topic := pick("events", "orders", "", "bad topic")
	req := httpbroker.RouteRequest{Topic: topic, Seed: r.Uint64() >> r.IntN(64)}
	for range r.IntN(5) {
		svc := &abi.Service{Name: pick(httpbroker.ServiceName, httpbroker.ServiceName, "other"),
			Version: pick(httpbroker.BroadcastVersion, "q1", "q2", "")}
		for range r.IntN(6) {
			md := map[string]string{}
			if r.IntN(8) > 0 {
				md[httpbroker.MetaBroker] = pick("http", "http", "nats")
			}
			if r.IntN(8) > 0 {
				md[httpbroker.MetaTopic] = pick("events", "orders", "")
			}
			if r.IntN(2) > 0 {
				md[httpbroker.MetaSecure] = pick("true", "false", "")
			}
			svc.Nodes = append(svc.Nodes, abi.Node{ID: pick("a", "b", "c", "d", "", "a b", "x&y=1", "ü~_.-"), Address: pick("127.0.0.1:9000", "[::1]:80", "Host_x~:1", "", "a b:1", "h%2f:1", "ü:1"), Metadata: md})
		}
		req.Services = append(req.Services, svc)
	}
	b := component.AppendBrokerRouteRequest(nil, &req)
	switch r.IntN(4) {
	case 0: // the topic again, after the services: the last counts
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, pick("events", "orders"))
	case 1: // a service whose name and version follow its nodes, and a metadata key twice
		var node []byte
		node = protowire.AppendTag(node, 1, protowire.BytesType)
		node = protowire.AppendString(node, pick("a", "z"))
		node = protowire.AppendTag(node, 2, protowire.BytesType)
		node = protowire.AppendString(node, "127.0.0.1:1")
		for _, kv := range [][2]string{{"broker", "http"}, {"topic", "orders"}, {"topic", topic}, {"broker", pick("http", "x")}} {
			var e []byte
			e = protowire.AppendTag(e, 1, protowire.BytesType)
			e = protowire.AppendString(e, kv[0])
			e = protowire.AppendTag(e, 2, protowire.BytesType)
			e = protowire.AppendString(e, kv[1])
			node = protowire.AppendTag(node, 3, protowire.BytesType)
			node = protowire.AppendBytes(node, e)
		}
		var svc []byte
		svc = protowire.AppendTag(svc, 3, protowire.BytesType)
		svc = protowire.AppendBytes(svc, node)
		svc = protowire.AppendTag(svc, 9, protowire.VarintType) // unknown
		svc = protowire.AppendVarint(svc, 5)
		svc = protowire.AppendTag(svc, 1, protowire.BytesType)
		svc = protowire.AppendString(svc, httpbroker.ServiceName)
		svc = protowire.AppendTag(svc, 2, protowire.BytesType)
		svc = protowire.AppendString(svc, pick("q1", "q3", httpbroker.BroadcastVersion))
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, svc)
	case 2: // the seed again, and a known field of another wire type, which is skipped
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Uint64())
		b = protowire.AppendTag(b, 1, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, 7)
	}
	return b
}

// randomMessage returns a publication record with clashing header keys (written as entries
// in any order, some twice), a Micro-Topic header, characters JSON escapes, and empty or
// binary bodies.
func randomMessage(r *rand.Rand) []byte {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	var b []byte
	field := func(num protowire.Number, v []byte) {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	for range r.IntN(8) {
		switch r.IntN(5) {
		case 0:
			field(1, []byte(pick("events", "orders.created", "", "bad topic", "ünï")))
		case 1:
			field(3, []byte(pick("", "{}", "\x00\xff\xfe", `{"order":42}`)))
		default:
			var e []byte
			if r.IntN(6) > 0 {
				e = protowire.AppendTag(e, 1, protowire.BytesType)
				e = protowire.AppendString(e, pick("Content-Type", "Micro-Topic", "a", "B", "", "<&>", "\u2028", "\xff"))
			}
			if r.IntN(6) > 0 {
				e = protowire.AppendTag(e, 2, protowire.BytesType)
				e = protowire.AppendString(e, pick("x", "", "\"quoted\"", "\n\t", "\x80"))
			}
			field(2, e)
		}
	}
	if r.IntN(4) == 0 {
		b = protowire.AppendTag(b, 7, protowire.VarintType) // unknown
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

// TestWireFormMatchesDecoded holds each operation the Wasm plugin answers from the wire form
// to the native protocol on the decoded record: over the differential corpus, 3,000 random
// records, and every truncation of some of them.
func TestWireFormMatchesDecoded(t *testing.T) {
	calls := corpus(t)
	for k, w := range wireOps {
		t.Run(w.op, func(t *testing.T) {
			for _, c := range calls {
				if c.op == w.op {
					sameAnswer(t, w, c.in)
				}
			}
			r := rand.New(rand.NewPCG(uint64(k), 2))
			for i := range 3000 {
				b := w.random(r)
				sameAnswer(t, w, b)
				if i%100 == 0 {
					for n := range len(b) {
						sameAnswer(t, w, b[:n])
					}
				}
			}
		})
	}
}

// FuzzEncodeWire and FuzzRouteWire: for any input, the wire form answers as the decoder and
// the native protocol do.
func FuzzEncodeWire(f *testing.F) { fuzzWire(f, wireOps[0]) }

func FuzzRouteWire(f *testing.F) { fuzzWire(f, wireOps[1]) }

func fuzzWire(f *testing.F, w wireOp) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(w.random(r))
	}
	f.Add([]byte("\x0a\x01t\x1a\x03\x0a"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sameAnswer(t, w, in)
	})
}

// BenchmarkWire measures the broker module's encode and route natively, on the records the
// broker benchmarks use (internal/broker's benchMessage and benchRoute): through the
// decoders (component.HandleBroker) and on the wire form (EncodeWire, RouteWire), which the
// module runs. Against BenchmarkProtocol's Wasm rows, it tells the guest's own work from the
// call's fixed cost and the host's records.
func BenchmarkWire(b *testing.B) {
	node := func(id string) abi.Node {
		return abi.Node{ID: id, Address: "127.0.0.1:9000", Metadata: map[string]string{"broker": "http", "topic": "events", "secure": "false"}}
	}
	ops := []struct {
		op   string
		in   []byte
		wire func(dst, in []byte) ([]byte, bool, error)
	}{
		{component.BrokerOpEncode, component.AppendBrokerMessage(nil, &httpbroker.Message{
			Topic:  "events",
			Header: map[string]string{"Content-Type": "application/json", "Micro-Id": "6f1c9f5e-1d2b-4c1e-9a57-0b8c1c2d3e4f"},
			Body:   []byte(`{"order":42,"item":"book"}`),
		}), httpbroker.EncodeWire},
		{component.BrokerOpRoute, component.AppendBrokerRouteRequest(nil, &httpbroker.RouteRequest{Topic: "events", Seed: 7, Services: []*abi.Service{
			{Name: httpbroker.ServiceName, Version: httpbroker.BroadcastVersion, Nodes: []abi.Node{node("a"), node("b"), node("c")}},
			{Name: httpbroker.ServiceName, Version: "workers", Nodes: []abi.Node{node("d"), node("e")}},
		}}), httpbroker.RouteWire},
	}
	ctx := context.Background()
	for _, o := range ops {
		b.Run(o.op+"/decoded", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := component.HandleBroker(ctx, httpbroker.Protocol{}, o.op, o.in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(o.op+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var ok bool
				var err error
				if out, ok, err = o.wire(out[:0], o.in); !ok || err != nil {
					b.Fatal(fmt.Sprint(ok, err))
				}
			}
		})
	}
}
