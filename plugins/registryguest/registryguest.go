// Package registryguest turns a registry's logic into a Wasm registry module: it registers
// the operations "register", "deregister", "get", "list" and "watch" (abi/ABI.md, "Registry
// plugins") with the guest SDK. Each registry's wasm/main.go is one call to Serve.
package registryguest

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

// Registry is what a registry plugin's logic offers.
type Registry interface {
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	Deregister(ctx context.Context, svc *abi.Service) error
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
	ListServices(ctx context.Context) ([]string, error)
	Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error)
}

// Options configure Serve; C is the registry's configuration, which the host sends as JSON
// in every call's Registry-Config header.
type Options[C any] struct {
	// Name is the module's name, such as "consul".
	Name string
	// New builds the registry for a configuration. An error it returns as a *guest.Error
	// reaches the host with its code.
	New func(c *C) (Registry, error)
	// FailureCode is the error code of a failure other than "not found" (404): 502 for a
	// registry behind the network, 500 for a local one.
	FailureCode int32
}

// server keeps the registry built for the last configuration seen (one module per
// instance), so that consecutive calls share it — re-registration can then recognise an
// unchanged record.
type server[C any] struct {
	opts       Options[C]
	lastConfig string
	reg        Registry
}

// open returns the registry for the configuration in req's Registry-Config header.
func (s *server[C]) open(req *guest.Request) (Registry, error) {
	raw, _ := req.Header("Registry-Config")
	if s.reg != nil && raw == s.lastConfig {
		return s.reg, nil
	}
	c := new(C)
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), c); err != nil {
			return nil, guest.BadRequest("Registry-Config header: %v", err)
		}
	}
	r, err := s.opts.New(c)
	if err != nil {
		return nil, err
	}
	s.reg, s.lastConfig = r, raw
	return r, nil
}

// Serve registers the registry operations. Call it from init.
func Serve[C any](o Options[C]) {
	s := &server[C]{opts: o}
	guest.DescribeKind(abi.KindRegistry, o.Name, "1.0.0")
	guest.Handle("register", op(s, func(ctx context.Context, r Registry, in *abi.RegistryRecord) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("register: no service")
		}
		return nil, r.Register(ctx, in.Service, time.Duration(in.TTLMS)*time.Millisecond)
	}))
	guest.Handle("deregister", op(s, func(ctx context.Context, r Registry, in *abi.RegistryRecord) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("deregister: no service")
		}
		return nil, r.Deregister(ctx, in.Service)
	}))
	guest.Handle("get", op(s, func(ctx context.Context, r Registry, in *abi.RegistryName) (any, error) {
		svcs, err := r.GetService(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return abi.RegistryServices{Services: svcs}, nil
	}))
	guest.Handle("list", op(s, func(ctx context.Context, r Registry, _ *struct{}) (any, error) {
		names, err := r.ListServices(ctx)
		if err != nil {
			return nil, err
		}
		return abi.RegistryNames{Names: names}, nil
	}))
	guest.Handle("watch", op(s, func(ctx context.Context, r Registry, in *abi.RegistryWatch) (any, error) {
		svcs, index, err := r.Watch(ctx, in.Name, in.Index)
		if err != nil {
			return nil, err
		}
		return abi.RegistryServices{Services: svcs, Index: index}, nil
	}))
}

// op decodes the request into In, runs fn with the configured registry and encodes its
// reply; "not found" becomes a 404, other failures the server's FailureCode.
func op[C, In any](s *server[C], fn func(ctx context.Context, r Registry, in *In) (any, error)) guest.Handler {
	return func(req *guest.Request) ([]byte, error) {
		in := new(In)
		if len(req.Body) > 0 {
			if err := json.Unmarshal(req.Body, in); err != nil {
				return nil, guest.BadRequest("%s: malformed request: %v", req.Endpoint, err)
			}
		}
		r, err := s.open(req)
		if err != nil {
			return nil, err
		}
		out, err := fn(context.Background(), r, in)
		var ge *guest.Error
		switch {
		case err == nil && out == nil:
			return nil, nil
		case err == nil:
			return json.Marshal(out)
		case errors.As(err, &ge):
			return nil, ge
		case errors.Is(err, abi.ErrServiceNotFound):
			return nil, guest.Errorf(404, "%v", err)
		}
		return nil, guest.Errorf(s.opts.FailureCode, "%v", err)
	}
}
