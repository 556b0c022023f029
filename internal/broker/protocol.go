package broker

import (
	"context"
	"fmt"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
)

// Protocol is the sans-I/O part of the broker: the broker kind's interface
// (component.BrokerProtocol). It encodes publications, parses deliveries and routes
// publications to subscriber nodes; a native twin implements it in the host, Wasm adapts a
// broker module. Errors a caller should answer with a 4xx come back as *abi.Error values.
type Protocol = component.BrokerProtocol

// Caller is what module subscribers need of a loaded module; *host.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
}

// OpCaller runs one operation of a component module: its name, its input record, its output
// record. *wasmcomponent.Module satisfies it.
type OpCaller interface {
	Call(ctx context.Context, op string, in []byte) ([]byte, error)
}

// Wasm returns the protocol of a loaded broker module, such as http-broker.wasm. Each
// operation is one call into the module, with the protobuf records of abi/broker.md.
func Wasm(m OpCaller) Protocol { return wasm{m: m} }

type wasm struct{ m OpCaller }

func (w wasm) Encode(ctx context.Context, msg *component.BrokerMessage) ([]byte, error) {
	out, err := w.m.Call(ctx, component.BrokerOpEncode, component.AppendBrokerMessage(make([]byte, 0, 64+len(msg.Body)), msg))
	if err != nil {
		return nil, err
	}
	body, err := component.UnmarshalBrokerEncoded(out)
	if err != nil {
		return nil, fmt.Errorf("broker module encode: malformed output: %w", err)
	}
	return body, nil
}

func (w wasm) Parse(ctx context.Context, req *component.BrokerParseRequest) (*component.BrokerDelivery, error) {
	out, err := w.m.Call(ctx, component.BrokerOpParse, component.AppendBrokerParseRequest(make([]byte, 0, 64+len(req.Body)), req))
	if err != nil {
		return nil, err
	}
	d, err := component.UnmarshalBrokerDelivery(out)
	if err != nil {
		return nil, fmt.Errorf("broker module parse: malformed output: %w", err)
	}
	return d, nil
}

func (w wasm) Route(ctx context.Context, req *component.BrokerRouteRequest) (*component.BrokerRoutes, error) {
	out, err := w.m.Call(ctx, component.BrokerOpRoute, component.AppendBrokerRouteRequest(nil, req))
	if err != nil {
		return nil, err
	}
	r, err := component.UnmarshalBrokerRoutes(out)
	if err != nil {
		return nil, fmt.Errorf("broker module route: malformed output: %w", err)
	}
	return r, nil
}

// ModuleHandler returns a Handler that delivers each message to a subscriber module (or a
// handler module serving the topic as an endpoint): the endpoint is the topic, the body the
// message body, the headers the message's headers.
func ModuleHandler(m Caller) Handler {
	return func(ctx context.Context, ev *Event) error {
		_, err := m.Call(ctx, &host.Request{
			Endpoint:    ev.Topic,
			ContentType: ev.Header["Content-Type"],
			Header:      ev.Header,
			Body:        ev.Body,
		})
		return err
	}
}
