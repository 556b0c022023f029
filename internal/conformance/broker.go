package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// brokerSuite is the broker kind's acceptance suite (abi/broker.md): encode and parse
// round-trip a message, parse refuses malformed deliveries with a 4xx and keeps serving,
// route reaches every broadcast subscriber and one subscriber of each queue group among the
// nodes it is given, and nothing else.
func brokerSuite() suite {
	return suite{
		ops: component.BrokerOps(),
		wasm: func(ctx context.Context, l wasmcomponent.Loader, path, name string) (any, func(context.Context) error, error) {
			m, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{Kind: component.KindBroker, Name: name, Path: path,
				Ops: component.BrokerOps(), Options: host.ModuleOptions{PoolSize: 1}})
			if err != nil {
				return nil, nil, err
			}
			return broker.Wasm(m), m.Close, nil
		},
		native: func(_ context.Context, t component.Twin) (any, func(context.Context) error, error) {
			bt, ok := t.Native.(component.BrokerTwin)
			if !ok || bt.Protocol == nil {
				return nil, nil, fmt.Errorf("broker twin %q: Native is a %T, not a component.BrokerTwin with a protocol", t.Name, t.Native)
			}
			return bt.Protocol, noRelease, nil
		},
		check: func(ctx context.Context, r *Report, impl any) {
			checkBroker(ctx, r, impl.(component.BrokerProtocol))
		},
	}
}

func checkBroker(ctx context.Context, r *Report, p component.BrokerProtocol) {
	header := map[string]string{"Content-Type": "application/json", "Micro-Id": "42", "X-Custom": "é ☃ <&>"}
	r.Check("encode then parse keeps topic, headers and body", roundTrip(ctx, p, "events", header, []byte(`{"order":1}`)))
	r.Check("encode then parse keeps an empty body", roundTrip(ctx, p, "events", nil, nil))
	large := bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff, 'x'}, (1<<20)/6)
	r.Check("encode then parse keeps a 1 MiB binary body", roundTrip(ctx, p, "orders.created", header, large))

	_, err := p.Encode(ctx, &component.BrokerMessage{Body: []byte(`{}`)})
	r.Check("encode refuses an empty topic with a 4xx", want4xx(err))

	good, err := p.Encode(ctx, &component.BrokerMessage{Topic: "events", Body: []byte(`{}`)})
	if err != nil {
		r.Check("parse refuses malformed deliveries", fmt.Errorf("encode failed: %w", err))
	} else {
		for _, c := range []struct {
			name string
			req  component.BrokerParseRequest
		}{
			{"a GET", component.BrokerParseRequest{Method: "GET", Query: "id=n1", Body: good}},
			{"no subscriber id", component.BrokerParseRequest{Method: "POST", Query: "", Body: good}},
			{"a malformed query", component.BrokerParseRequest{Method: "POST", Query: "id=%zz", Body: good}},
			{"an empty body", component.BrokerParseRequest{Method: "POST", Query: "id=n1"}},
			{"a truncated body", component.BrokerParseRequest{Method: "POST", Query: "id=n1", Body: good[:len(good)/2]}},
			{"a binary body", component.BrokerParseRequest{Method: "POST", Query: "id=n1", Body: []byte{0xff, 0, 0x80, 0x0a}}},
		} {
			_, err := p.Parse(ctx, &c.req)
			r.Check("parse refuses "+c.name+" with a 4xx", want4xx(err))
		}
		_, err = p.Parse(ctx, &component.BrokerParseRequest{Method: "POST", Query: "id=n1", Body: good})
		r.Check("parse still takes a good delivery after refusals", err)
	}

	checkRoute(ctx, r, p)
}

// roundTrip encodes a message, parses the delivery addressed to a node, and compares.
func roundTrip(ctx context.Context, p component.BrokerProtocol, topic string, header map[string]string, body []byte) error {
	enc, err := p.Encode(ctx, &component.BrokerMessage{Topic: topic, Header: maps.Clone(header), Body: body})
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	routes, err := p.Route(ctx, &component.BrokerRouteRequest{Topic: topic})
	if err != nil {
		return fmt.Errorf("route: %w", err)
	}
	const id = "node-1 é"
	d, err := p.Parse(ctx, &component.BrokerParseRequest{Method: "POST", Query: url.Values{"id": {id}}.Encode(), ContentType: routes.ContentType, Body: enc})
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	switch {
	case d.ID != id:
		return fmt.Errorf("parse gives the subscriber id %q, want %q", d.ID, id)
	case d.Topic != topic:
		return fmt.Errorf("parse gives the topic %q, want %q", d.Topic, topic)
	case !bytes.Equal(d.Body, body):
		return fmt.Errorf("parse gives a body of %d bytes (%.40q), want %d bytes (%.40q)", len(d.Body), d.Body, len(body), body)
	}
	for k, v := range header {
		if got, ok := d.Header[k]; !ok || got != v {
			return fmt.Errorf("parse gives the header %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	return nil
}

// want4xx fails unless err is an *abi.Error with a 4xx code: the answer to a bad input,
// not a trap or a fault.
func want4xx(err error) error {
	var ae *abi.Error
	switch {
	case err == nil:
		return errors.New("accepted it")
	case !errors.As(err, &ae):
		return fmt.Errorf("failed with %v, not an error with a 4xx code", err)
	case ae.Code < 400 || ae.Code > 499:
		return fmt.Errorf("answered %d (%s), want a 4xx", ae.Code, ae.Detail)
	}
	return nil
}

func subscriberNode(id, topic string, port int) abi.Node {
	return abi.Node{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", port), Metadata: map[string]string{
		component.BrokerMetaBroker: "http", component.BrokerMetaTopic: topic, component.BrokerMetaSecure: "false"}}
}

func checkRoute(ctx context.Context, r *Report, p component.BrokerProtocol) {
	for _, c := range []struct {
		name     string
		services []*abi.Service
	}{
		{"no services", nil},
		{"a service with no nodes", []*abi.Service{{Name: component.BrokerServiceName, Version: component.BrokerBroadcastVersion}}},
		{"only other topics", []*abi.Service{{Name: component.BrokerServiceName, Version: component.BrokerBroadcastVersion,
			Nodes: []abi.Node{subscriberNode("o1", "orders", 9001)}}}},
	} {
		routes, err := p.Route(ctx, &component.BrokerRouteRequest{Topic: "events", Seed: 1, Services: c.services})
		if err == nil && len(routes.Targets) != 0 {
			err = fmt.Errorf("routes to %d targets, want none", len(routes.Targets))
		}
		r.Check("route with "+c.name+" gives no targets", err)
	}
	_, err := p.Route(ctx, &component.BrokerRouteRequest{Topic: ""})
	r.Check("route refuses an empty topic with a 4xx", want4xx(err))

	broadcast := []abi.Node{subscriberNode("b1", "events", 9101), subscriberNode("b2", "events", 9102), subscriberNode("x1", "orders", 9103)}
	workers := []abi.Node{subscriberNode("w1", "events", 9201), subscriberNode("w2", "events", 9202), subscriberNode("w3", "events", 9203)}
	auditors := []abi.Node{subscriberNode("a1", "events", 9301), subscriberNode("a2", "events", 9302)}
	services := []*abi.Service{
		{Name: component.BrokerServiceName, Version: component.BrokerBroadcastVersion, Nodes: broadcast},
		{Name: component.BrokerServiceName, Version: "workers", Nodes: workers},
		{Name: component.BrokerServiceName, Version: "auditors", Nodes: auditors},
		{Name: "not.the.broker", Version: component.BrokerBroadcastVersion, Nodes: []abi.Node{subscriberNode("n1", "events", 9401)}},
	}
	given := map[string]abi.Node{}
	for _, s := range services[:3] {
		for _, n := range s.Nodes {
			given[n.ID] = n
		}
	}
	var errs []error
	picked := map[string]bool{}
	for seed := range uint64(32) {
		req := &component.BrokerRouteRequest{Topic: "events", Seed: seed * 0x9e3779b97f4a7c15, Services: services}
		routes, err := p.Route(ctx, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("seed %d: %w", seed, err))
			break
		}
		if err := checkTargets(routes, given); err != nil {
			errs = append(errs, fmt.Errorf("seed %d: %w", seed, err))
			break
		}
		again, err := p.Route(ctx, req)
		if err != nil || !slices.Equal(again.Targets, routes.Targets) {
			errs = append(errs, fmt.Errorf("seed %d: the same request routes differently (%v)", seed, err))
			break
		}
		for _, t := range routes.Targets {
			picked[t.ID] = true
		}
	}
	r.Check("route sends to every broadcast subscriber and one of each queue group, among the nodes given", errors.Join(errs...))
	r.Checkf("route spreads a queue group's messages over its members as the seed varies",
		picked["w1"] && picked["w2"] && picked["w3"] && picked["a1"] && picked["a2"], "over 32 seeds it picked only %v", slices.Sorted(maps.Keys(picked)))

	// A node that is no longer given is no longer routed to.
	routes, err := p.Route(ctx, &component.BrokerRouteRequest{Topic: "events", Seed: 7, Services: []*abi.Service{
		{Name: component.BrokerServiceName, Version: "workers", Nodes: workers[1:2]}}})
	if err == nil && (len(routes.Targets) != 1 || routes.Targets[0].ID != "w2") {
		err = fmt.Errorf("routes to %v, want only w2", routes.Targets)
	}
	r.Check("route honours the nodes given", err)
}

// checkTargets checks one route of the standard request: b1 and b2, one of w1–w3, one of a1–a2.
func checkTargets(routes *component.BrokerRoutes, given map[string]abi.Node) error {
	if routes.ContentType == "" {
		return errors.New("routes carry no content type")
	}
	count := map[string]int{}
	for _, t := range routes.Targets {
		n, ok := given[t.ID]
		switch {
		case !ok:
			return fmt.Errorf("routes to %q, not a subscriber of the topic given", t.ID)
		case n.Metadata[component.BrokerMetaTopic] != "events":
			return fmt.Errorf("routes to %q, a subscriber of another topic", t.ID)
		case t.Address != n.Address:
			return fmt.Errorf("target %q has the address %q, want %q", t.ID, t.Address, n.Address)
		case t.URL == "":
			return fmt.Errorf("target %q has no URL", t.ID)
		}
		count[t.ID[:1]]++
		count[t.ID]++
	}
	switch {
	case count["b1"] != 1 || count["b2"] != 1:
		return fmt.Errorf("broadcast subscribers b1, b2 get %d and %d deliveries, want 1 each", count["b1"], count["b2"])
	case count["w"] != 1:
		return fmt.Errorf("the queue group workers gets %d deliveries, want 1", count["w"])
	case count["a"] != 1:
		return fmt.Errorf("the queue group auditors gets %d deliveries, want 1", count["a"])
	}
	return nil
}
