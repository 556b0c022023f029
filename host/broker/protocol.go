package broker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/microhost/microhost/host"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// Protocol is the sans-I/O part of the broker: it encodes publications, parses deliveries
// and routes publications to subscriber nodes. Native runs package httpbroker compiled into
// the host; Wasm runs the same package compiled to the http-broker plugin. Errors a caller
// should answer with a 4xx come back as *abi.Error values.
type Protocol interface {
	Encode(ctx context.Context, msg *httpbroker.Message) ([]byte, error)
	Parse(ctx context.Context, method, query, contentType string, body []byte) (*httpbroker.Delivery, error)
	Route(ctx context.Context, req *httpbroker.RouteRequest) (*httpbroker.Routes, error)
}

// Caller is what the Wasm protocol and module subscribers need of a loaded module;
// *host.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
}

// Native returns the protocol compiled into the host.
func Native() Protocol { return native{} }

type native struct{}

func (native) Encode(_ context.Context, msg *httpbroker.Message) ([]byte, error) {
	return httpbroker.Encode(msg)
}

func (native) Parse(_ context.Context, method, query, contentType string, body []byte) (*httpbroker.Delivery, error) {
	return httpbroker.Parse(method, query, contentType, body)
}

func (native) Route(_ context.Context, req *httpbroker.RouteRequest) (*httpbroker.Routes, error) {
	return httpbroker.Route(req)
}

// Wasm returns the protocol of a loaded broker plugin, such as http-broker.wasm. Each
// operation is one call into the module: encode, parse and route, with JSON inputs and
// outputs as package httpbroker's Handle defines them.
func Wasm(m Caller) Protocol { return wasm{m: m} }

type wasm struct{ m Caller }

func (w wasm) call(ctx context.Context, req *host.Request) ([]byte, error) {
	rsp, err := w.m.Call(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("broker plugin %s: %w", req.Endpoint, err)
	}
	return rsp.Body, nil
}

func (w wasm) Encode(ctx context.Context, msg *httpbroker.Message) ([]byte, error) {
	in, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return w.call(ctx, &host.Request{Endpoint: httpbroker.OpEncode, ContentType: "application/json", Body: in})
}

func (w wasm) Parse(ctx context.Context, method, query, contentType string, body []byte) (*httpbroker.Delivery, error) {
	out, err := w.call(ctx, &host.Request{
		Endpoint:    httpbroker.OpParse,
		ContentType: contentType,
		Header:      map[string]string{httpbroker.HeaderMethod: method, httpbroker.HeaderQuery: query},
		Body:        body,
	})
	if err != nil {
		return nil, err
	}
	d := new(httpbroker.Delivery)
	if err := json.Unmarshal(out, d); err != nil {
		return nil, fmt.Errorf("broker plugin parse: malformed output: %w", err)
	}
	return d, nil
}

func (w wasm) Route(ctx context.Context, req *httpbroker.RouteRequest) (*httpbroker.Routes, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := w.call(ctx, &host.Request{Endpoint: httpbroker.OpRoute, ContentType: "application/json", Body: in})
	if err != nil {
		return nil, err
	}
	r := new(httpbroker.Routes)
	if err := json.Unmarshal(out, r); err != nil {
		return nil, fmt.Errorf("broker plugin route: malformed output: %w", err)
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
