// Package registryguest turns a registry's logic into a Wasm registry module: it registers
// the operations "register", "deregister", "get", "list" and "watch" (abi/registry.md) with
// the guest SDK, decoding each protobuf RegistryRequest and encoding each RegistryReply.
// Each registry's wasm/main.go is one call to Serve.
package registryguest

import (
	"bytes"
	"context"
	"errors"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
)

// Options configure Serve.
type Options struct {
	// Name is the module's name, such as "consul-registry".
	Name string
	// New builds the registry for the settings a request carries. An error it returns as a
	// *guest.Error reaches the host with its code.
	New func(s component.RegistrySettings) (component.Registry, error)
	// FailureCode is the error code of a failure other than "not found" (404) and bad input
	// (400): 502 for a registry behind the network, 500 for a local one.
	FailureCode int32
}

// server keeps the registry built for the last settings seen (one module per instance), so
// that consecutive calls share it — re-registration can then recognise an unchanged record.
type server struct {
	opts         Options
	lastSettings []byte
	reg          component.Registry
}

// open returns the registry for the settings s, whose encoding is raw.
func (s *server) open(raw []byte, set component.RegistrySettings) (component.Registry, error) {
	if s.reg != nil && bytes.Equal(raw, s.lastSettings) {
		return s.reg, nil
	}
	r, err := s.opts.New(set)
	if err != nil {
		return nil, err
	}
	s.reg, s.lastSettings = r, raw
	return r, nil
}

// Serve registers the registry operations. Call it from init.
func Serve(o Options) {
	s := &server{opts: o}
	c := guest.Component{Kind: abi.KindRegistry, Name: o.Name}
	c.Ops = append(c.Ops, guest.Op{Name: "register", Do: op(s, "register", func(ctx context.Context, r component.Registry, in *component.RegistryRequest) (*component.RegistryReply, error) {
		if in.Service == nil || in.Service.Name == "" {
			return nil, guest.BadRequest("register: no service name")
		}
		return nil, r.Register(ctx, in.Service, in.TTL)
	})})
	c.Ops = append(c.Ops, guest.Op{Name: "deregister", Do: op(s, "deregister", func(ctx context.Context, r component.Registry, in *component.RegistryRequest) (*component.RegistryReply, error) {
		if in.Service == nil || in.Service.Name == "" {
			return nil, guest.BadRequest("deregister: no service name")
		}
		return nil, r.Deregister(ctx, in.Service)
	})})
	c.Ops = append(c.Ops, guest.Op{Name: "get", Do: op(s, "get", func(ctx context.Context, r component.Registry, in *component.RegistryRequest) (*component.RegistryReply, error) {
		if in.Name == "" {
			return nil, guest.BadRequest("get: no service name")
		}
		svcs, err := r.GetService(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &component.RegistryReply{Services: svcs}, nil
	})})
	c.Ops = append(c.Ops, guest.Op{Name: "list", Do: op(s, "list", func(ctx context.Context, r component.Registry, _ *component.RegistryRequest) (*component.RegistryReply, error) {
		names, err := r.ListServices(ctx)
		if err != nil {
			return nil, err
		}
		return &component.RegistryReply{Names: names}, nil
	})})
	c.Ops = append(c.Ops, guest.Op{Name: "watch", Do: op(s, "watch", func(ctx context.Context, r component.Registry, in *component.RegistryRequest) (*component.RegistryReply, error) {
		if in.Name == "" {
			return nil, guest.BadRequest("watch: no service name")
		}
		svcs, index, err := r.Watch(ctx, in.Name, in.Index)
		if err != nil {
			return nil, err
		}
		return &component.RegistryReply{Services: svcs, Index: index}, nil
	})})
	guest.ServeComponent(c)
}

// op decodes the request, runs fn with the configured registry and encodes its reply; bad
// input becomes a 400, "not found" a 404, other failures the server's FailureCode.
func op(s *server, name string, fn func(ctx context.Context, r component.Registry, in *component.RegistryRequest) (*component.RegistryReply, error)) func([]byte) ([]byte, error) {
	return func(body []byte) ([]byte, error) {
		var in component.RegistryRequest
		if err := in.Unmarshal(body); err != nil {
			return nil, guest.BadRequest("%s: %v", name, err)
		}
		r, err := s.open(settingsBytes(&in), in.Settings)
		if err != nil {
			return nil, err
		}
		out, err := fn(context.Background(), r, &in)
		var ge *guest.Error
		switch {
		case err == nil && out == nil:
			return nil, nil
		case err == nil:
			return out.Marshal(), nil
		case errors.As(err, &ge):
			return nil, ge
		case errors.Is(err, abi.ErrServiceNotFound):
			return nil, guest.Errorf(404, "%v", err)
		}
		return nil, guest.Errorf(s.opts.FailureCode, "%v", err)
	}
}

// settingsBytes is the encoding of a request's settings, which identifies them.
func settingsBytes(in *component.RegistryRequest) []byte {
	return (&component.RegistryRequest{Settings: in.Settings}).Marshal()
}
