package httpbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

var pluginWasm string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "microhost-httpbroker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginWasm, err = guestbuild.Go(context.Background(), "./plugins/http-broker/wasm", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// call is one operation with its input record.
type call struct {
	op string
	in []byte
}

func corpus(t *testing.T) []call {
	t.Helper()
	var calls []call
	messages := []*httpbroker.Message{
		{Topic: "events", Body: []byte(`{"n":1}`)},
		{Topic: "events", Header: map[string]string{"Content-Type": "application/json", "Micro-Id": "x", "z": "last", "A": "first"}, Body: []byte(`{}`)},
		{Topic: "orders.created", Header: map[string]string{"Micro-Topic": "overridden"}, Body: []byte{0, 1, 2, 0xff, 0xfe}},
		{Topic: "ünïcode/topic", Header: map[string]string{"k": "<&>\u2028", "": ""}, Body: nil},
		{Topic: "events", Body: []byte{}},
		{Topic: "big", Body: bytes.Repeat([]byte("large body \x00\xff "), 20000)},
		{Topic: "", Body: []byte(`{}`)},
		{Topic: "has space", Body: []byte(`{}`)},
	}
	for _, m := range messages {
		calls = append(calls, call{op: "encode", in: component.AppendBrokerMessage(nil, m)})
		if body, err := httpbroker.Encode(m); err == nil {
			for _, q := range []string{"id=node-1", "id=a%20b&x=1", "", "id=%zz"} {
				for _, method := range []string{"POST", "PUT"} {
					calls = append(calls, call{op: "parse", in: component.AppendBrokerParseRequest(nil,
						&component.BrokerParseRequest{Method: method, Query: q, ContentType: "application/json", Body: body})})
				}
			}
		}
	}
	for _, raw := range []string{``, `{`, `[]`, `null`, `{"Header":null}`, `{"Header":{"Micro-Topic":"t"},"Body":"!!"}`,
		`{"Header":{":topic":"legacy"},"Body":"AAEC"}`, `{"Header":{"Micro-Topic":"t"}} x`, `{"header":{"micro-topic":"t"}}`} {
		for _, ct := range []string{"text/json", ""} {
			calls = append(calls, call{op: "parse", in: component.AppendBrokerParseRequest(nil,
				&component.BrokerParseRequest{Method: "POST", Query: "id=n", ContentType: ct, Body: []byte(raw)})})
		}
	}
	nodes := func(topic string, ids ...string) []abi.Node {
		var ns []abi.Node
		for i, id := range ids {
			ns = append(ns, abi.Node{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+i), Metadata: map[string]string{"broker": "http", "topic": topic, "secure": fmt.Sprint(i%2 == 1)}})
		}
		return ns
	}
	for seed := range uint64(20) {
		req := httpbroker.RouteRequest{Topic: "events", Seed: seed * 0x12345, Services: []*abi.Service{
			{Name: httpbroker.ServiceName, Version: httpbroker.BroadcastVersion, Nodes: nodes("events", "c", "a", "b")},
			{Name: httpbroker.ServiceName, Version: "q1", Nodes: nodes("events", "q1-a", "q1-b", "q1-c")},
			{Name: httpbroker.ServiceName, Version: "q2", Nodes: nodes("events", "q2-a", "q2-b")},
			{Name: httpbroker.ServiceName, Version: "q3", Nodes: nodes("orders", "o")},
		}}
		calls = append(calls, call{op: "route", in: component.AppendBrokerRouteRequest(nil, &req)})
	}
	calls = append(calls, call{op: "route", in: component.AppendBrokerRouteRequest(nil, &httpbroker.RouteRequest{Topic: "t"})})
	// Malformed records: a truncated tag, a length past the end, a bad wire type.
	for _, raw := range []string{"", "\x0a", "\x0a\x05ab", "\xff", "\x0f", "\x0a\x01t\x1a\x03\x0a"} {
		for _, op := range []string{"encode", "parse", "route"} {
			calls = append(calls, call{op: op, in: []byte(raw)})
		}
	}
	calls = append(calls, call{op: "unknown", in: nil})
	return calls
}

// TestNativeAndWasmAgree runs every operation of the corpus natively and in the plugin and
// requires byte-identical outputs and identical errors.
func TestNativeAndWasmAgree(t *testing.T) {
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := wasmcomponent.Load(ctx, rt, wasmcomponent.Spec{Kind: component.KindBroker, Name: httpbroker.Name,
		Path: pluginWasm, Ops: component.BrokerOps(), Options: host.ModuleOptions{PoolSize: 1}})
	require.NoError(t, err)
	defer m.Close(ctx)

	for i, c := range corpus(t) {
		name := fmt.Sprintf("%d %s %.60q", i, c.op, c.in)
		want, wantErr := component.HandleBroker(ctx, httpbroker.Protocol{}, c.op, c.in)
		got, gotErr := m.Call(ctx, c.op, c.in)
		if wantErr != nil {
			var we, ge *abi.Error
			require.True(t, errors.As(wantErr, &we), name)
			require.True(t, errors.As(gotErr, &ge), "%s: wasm error %v", name, gotErr)
			assert.Equal(t, we.Code, ge.Code, name)
			if c.op != "unknown" { // the SDK answers unknown operations itself, with its own words
				assert.Equal(t, we.Detail, ge.Detail, name)
			}
			continue
		}
		require.NoError(t, gotErr, name)
		assert.Equal(t, want, got, name)
	}
}
