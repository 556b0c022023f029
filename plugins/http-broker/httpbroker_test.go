package httpbroker_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

func node(id, topic string) abi.Node {
	return abi.Node{ID: id, Address: "127.0.0.1:90" + id[len(id)-1:], Metadata: map[string]string{"broker": "http", "topic": topic, "secure": "false"}}
}

func TestEncodeIsGoMicrosMessage(t *testing.T) {
	b, err := httpbroker.Encode(&httpbroker.Message{Topic: "events", Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Header":{"Content-Type":"application/json","Micro-Topic":"events"},"Body":"e30="}`, string(b))

	_, err = httpbroker.Encode(&httpbroker.Message{Topic: ""})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.EqualValues(t, 400, ae.Code)
}

func TestParseRoundTrip(t *testing.T) {
	msg := &httpbroker.Message{Topic: "orders", Header: map[string]string{"Micro-Id": "1"}, Body: []byte{0, 255}}
	b, err := httpbroker.Encode(msg)
	require.NoError(t, err)
	d, err := httpbroker.Parse("POST", "id=orders-broker-x", "application/json; charset=utf-8", b)
	require.NoError(t, err)
	assert.Equal(t, &httpbroker.Delivery{ID: "orders-broker-x", Topic: "orders",
		Header: map[string]string{"Micro-Id": "1", "Micro-Topic": "orders"}, Body: []byte{0, 255}}, d)

	// Go Micro before v2 named the topic ":topic".
	d, err = httpbroker.Parse("POST", "id=a", "", []byte(`{"Header":{":topic":"old"},"Body":null}`))
	require.NoError(t, err)
	assert.Equal(t, "old", d.Topic)
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]struct {
		method, query, ct, body string
		code                    int32
	}{
		"GET":          {"GET", "id=a", "", `{}`, 405},
		"content type": {"POST", "id=a", "text/plain", `{}`, 415},
		"bad query":    {"POST", "id=%zz", "", `{}`, 400},
		"no id":        {"POST", "x=1", "", `{}`, 400},
		"empty":        {"POST", "id=a", "", ``, 400},
		"array":        {"POST", "id=a", "", `[]`, 400},
		"header type":  {"POST", "id=a", "", `{"Header":{"Micro-Topic":1}}`, 400},
		"no topic":     {"POST", "id=a", "", `{"Header":{"X":"y"}}`, 400},
		"two values":   {"POST", "id=a", "", `{"Header":{"Micro-Topic":"t"}} {}`, 400},
		"unknown":      {"POST", "id=a", "", `{"Header":{"Micro-Topic":"t"},"Extra":true}`, 400},
	}
	for name, c := range cases {
		_, err := httpbroker.Parse(c.method, c.query, c.ct, []byte(c.body))
		var ae *abi.Error
		if assert.ErrorAs(t, err, &ae, name) {
			assert.Equal(t, c.code, ae.Code, name)
		}
	}
}

func TestRouteBroadcastAndQueues(t *testing.T) {
	req := &httpbroker.RouteRequest{Topic: "events", Seed: 1, Services: []*abi.Service{
		{Name: httpbroker.ServiceName, Version: httpbroker.BroadcastVersion, Nodes: []abi.Node{node("b2", "events"), node("b1", "events"), node("x3", "orders")}},
		{Name: httpbroker.ServiceName, Version: "workers", Nodes: []abi.Node{node("w1", "events"), node("w2", "events")}},
		{Name: httpbroker.ServiceName, Version: "other", Nodes: []abi.Node{node("o1", "orders")}},
		{Name: "not-the-broker", Version: httpbroker.BroadcastVersion, Nodes: []abi.Node{node("n1", "events")}},
	}}
	r, err := httpbroker.Route(req)
	require.NoError(t, err)
	assert.Equal(t, "application/json", r.ContentType)
	var ids []string
	for _, tg := range r.Targets {
		ids = append(ids, tg.ID)
	}
	require.Len(t, ids, 3, "both broadcast nodes and one worker")
	assert.Equal(t, []string{"b1", "b2"}, ids[:2])
	assert.Contains(t, []string{"w1", "w2"}, ids[2])
	assert.Equal(t, "http://127.0.0.1:901/?id=b1", r.Targets[0].URL)

	// The seed decides the queue member, and both members get picked over seeds.
	seen := map[string]bool{}
	for seed := range uint64(64) {
		req.Seed = seed
		r1, _ := httpbroker.Route(req)
		r2, _ := httpbroker.Route(req)
		assert.Equal(t, r1, r2, "same seed, same route")
		seen[r1.Targets[2].ID] = true
	}
	assert.Len(t, seen, 2)
}

func TestRouteSecureNodeUsesHTTPS(t *testing.T) {
	n := node("s1", "events")
	n.Metadata["secure"] = "true"
	r, err := httpbroker.Route(&httpbroker.RouteRequest{Topic: "events", Services: []*abi.Service{
		{Name: httpbroker.ServiceName, Version: httpbroker.BroadcastVersion, Nodes: []abi.Node{n}}}})
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:901/?id=s1", r.Targets[0].URL)
}

func TestHandleOperations(t *testing.T) {
	ctx := context.Background()
	p := httpbroker.Protocol{}
	out, err := component.HandleBroker(ctx, p, "encode", component.AppendBrokerMessage(nil, &httpbroker.Message{Topic: "t", Body: []byte(`{}`)}))
	require.NoError(t, err)
	body, err := component.UnmarshalBrokerEncoded(out)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Header":{"Micro-Topic":"t"},"Body":"e30="}`, string(body))

	out, err = component.HandleBroker(ctx, p, "parse", component.AppendBrokerParseRequest(nil,
		&component.BrokerParseRequest{Method: "POST", Query: "id=n1", ContentType: "application/json", Body: body}))
	require.NoError(t, err)
	d, err := component.UnmarshalBrokerDelivery(out)
	require.NoError(t, err)
	assert.Equal(t, "n1", d.ID)
	assert.Equal(t, "t", d.Topic)

	_, err = component.HandleBroker(ctx, p, "route", []byte{0xff})
	var ae *abi.Error
	require.True(t, errors.As(err, &ae))
	assert.EqualValues(t, 400, ae.Code)
	_, err = component.HandleBroker(ctx, p, "nope", nil)
	require.True(t, errors.As(err, &ae))
	assert.EqualValues(t, 404, ae.Code)
}

// FuzzParse feeds the delivery parser arbitrary requests: it never panics, and whatever it
// accepts encodes back to a delivery it parses to the same result.
func FuzzParse(f *testing.F) {
	f.Add("POST", "id=a", "application/json", []byte(`{"Header":{"Micro-Topic":"t","k":"v"},"Body":"e30="}`))
	f.Add("POST", "id=a&id=b", "", []byte(`{"Header":{":topic":"t"},"Body":null}`))
	f.Add("POST", "id=%41", "application/json;x=y", []byte(`{"header":{"Micro-Topic":"t"}}`))
	f.Add("GET", "", "text/plain", []byte(`garbage`))
	f.Fuzz(func(t *testing.T, method, query, ct string, body []byte) {
		d, err := httpbroker.Parse(method, query, ct, body)
		if err != nil {
			var ae *abi.Error
			if !errors.As(err, &ae) || ae.Code < 400 || ae.Code > 499 {
				t.Fatalf("error is not a 4xx *abi.Error: %v", err)
			}
			return
		}
		if d.ID == "" || d.Topic == "" || d.Header == nil {
			t.Fatalf("accepted an incomplete delivery: %+v", d)
		}
		b, err := httpbroker.Encode(&httpbroker.Message{Topic: d.Topic, Header: d.Header, Body: d.Body})
		if err != nil {
			return // a topic Parse accepts but Encode refuses (white space): Encode is stricter
		}
		d2, err := httpbroker.Parse("POST", url.Values{"id": {d.ID}}.Encode(), "", b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		assert.Equal(t, d.Body, d2.Body)
		assert.Equal(t, d.Topic, d2.Topic)
	})
}
