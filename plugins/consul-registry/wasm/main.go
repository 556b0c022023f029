//go:build wasip1

// Command wasm is the consul-registry.wasm plugin: package consulregistry behind ABI v1, with
// Consul reached through the host's outbound-HTTP capability. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o consul-registry.wasm ./plugins/consul-registry/wasm
//
// The host passes the Consul settings as JSON in the Registry-Config header of every call
// (abi/ABI.md, "Registry plugins") and grants outbound HTTP to the configured addresses only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	consulregistry "github.com/microhost/microhost/plugins/consul-registry"
)

// config is the Registry-Config header.
type config struct {
	Addresses                 []string `json:"addresses"`
	Scheme                    string   `json:"scheme"`
	Token                     string   `json:"token"`
	DeregisterCriticalAfterMS int64    `json:"deregister_critical_after_ms"`
	WatchWaitMS               int64    `json:"watch_wait_ms"`
}

// One module per instance: the registry built for the last configuration seen is kept, so
// re-registration can recognise an unchanged record and only pass its TTL check.
var (
	lastConfig string
	reg        *consulregistry.Registry
)

func registry(req *guest.Request) (*consulregistry.Registry, error) {
	raw, _ := req.Header("Registry-Config")
	if reg != nil && raw == lastConfig {
		return reg, nil
	}
	var c config
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, guest.BadRequest("Registry-Config header: %v", err)
		}
	}
	r, err := consulregistry.New(consulregistry.Options{
		Addresses:               c.Addresses,
		Scheme:                  c.Scheme,
		Token:                   c.Token,
		HTTPClient:              &http.Client{Transport: hostTransport{}},
		DeregisterCriticalAfter: time.Duration(c.DeregisterCriticalAfterMS) * time.Millisecond,
		WatchWait:               time.Duration(c.WatchWaitMS) * time.Millisecond,
	})
	if err != nil {
		return nil, guest.BadRequest("%v", err)
	}
	reg, lastConfig = r, raw
	return r, nil
}

// Operation records (abi/ABI.md, "Registry plugins").
type (
	registerRequest struct {
		Service *abi.Service `json:"service"`
		TTLMS   int64        `json:"ttl_ms"`
	}
	nameRequest struct {
		Name string `json:"name"`
	}
	watchRequest struct {
		Name  string `json:"name"`
		Index uint64 `json:"index"`
	}
	servicesReply struct {
		Services []*abi.Service `json:"services"`
		Index    uint64         `json:"index,omitempty"`
	}
	namesReply struct {
		Names []string `json:"names"`
	}
)

// op decodes the request into In, runs fn with the configured registry and encodes its reply.
func op[In any](fn func(ctx context.Context, r *consulregistry.Registry, in *In) (any, error)) guest.Handler {
	return func(req *guest.Request) ([]byte, error) {
		in := new(In)
		if len(req.Body) > 0 {
			if err := json.Unmarshal(req.Body, in); err != nil {
				return nil, guest.BadRequest("%s: malformed request: %v", req.Endpoint, err)
			}
		}
		r, err := registry(req)
		if err != nil {
			return nil, err
		}
		out, err := fn(context.Background(), r, in)
		var ge *guest.Error
		if err != nil {
			if errors.As(err, &ge) {
				return nil, ge
			}
			if errors.Is(err, abi.ErrServiceNotFound) {
				return nil, guest.Errorf(404, "%v", err)
			}
			return nil, guest.Errorf(502, "%v", err)
		}
		if out == nil {
			return nil, nil
		}
		return json.Marshal(out)
	}
}

func init() {
	guest.DescribeKind(abi.KindRegistry, "consul", "1.0.0")
	guest.Handle("register", op(func(ctx context.Context, r *consulregistry.Registry, in *registerRequest) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("register: no service")
		}
		return nil, r.Register(ctx, in.Service, time.Duration(in.TTLMS)*time.Millisecond)
	}))
	guest.Handle("deregister", op(func(ctx context.Context, r *consulregistry.Registry, in *registerRequest) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("deregister: no service")
		}
		return nil, r.Deregister(ctx, in.Service)
	}))
	guest.Handle("get", op(func(ctx context.Context, r *consulregistry.Registry, in *nameRequest) (any, error) {
		svcs, err := r.GetService(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return servicesReply{Services: svcs}, nil
	}))
	guest.Handle("list", op(func(ctx context.Context, r *consulregistry.Registry, _ *struct{}) (any, error) {
		names, err := r.ListServices(ctx)
		if err != nil {
			return nil, err
		}
		return namesReply{Names: names}, nil
	}))
	guest.Handle("watch", op(func(ctx context.Context, r *consulregistry.Registry, in *watchRequest) (any, error) {
		svcs, index, err := r.Watch(ctx, in.Name, in.Index)
		if err != nil {
			return nil, err
		}
		return servicesReply{Services: svcs, Index: index}, nil
	}))
}

func main() {}
