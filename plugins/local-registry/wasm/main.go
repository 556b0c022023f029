//go:build wasip1

// Command wasm is the local-registry.wasm plugin: package localregistry behind ABI v1. The
// host mounts the registry directory at /registry, the only file access the module has.
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o local-registry.wasm ./plugins/local-registry/wasm
package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	localregistry "github.com/microhost/microhost/plugins/local-registry"
)

// Dir is where the host mounts the registry directory.
const Dir = "/registry"

// config is the Registry-Config header.
type config struct {
	WatchWaitMS    int64 `json:"watch_wait_ms"`
	PollIntervalMS int64 `json:"poll_interval_ms"`
}

// The registry built for the last configuration seen (one module per instance).
var (
	lastConfig string
	reg        *localregistry.Registry
)

func registry(req *guest.Request) (*localregistry.Registry, error) {
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
	r, err := localregistry.New(Dir, localregistry.Options{
		WatchWait:    time.Duration(c.WatchWaitMS) * time.Millisecond,
		PollInterval: time.Duration(c.PollIntervalMS) * time.Millisecond,
	})
	if err != nil {
		return nil, guest.Errorf(500, "%v (is the registry directory mounted at %s?)", err, Dir)
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

// op decodes the request into In, runs fn with the registry and encodes its reply.
func op[In any](fn func(ctx context.Context, r *localregistry.Registry, in *In) (any, error)) guest.Handler {
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
		return nil, guest.Errorf(500, "%v", err)
	}
}

func init() {
	guest.DescribeKind(abi.KindRegistry, "local", "1.0.0")
	guest.Handle("register", op(func(ctx context.Context, r *localregistry.Registry, in *registerRequest) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("register: no service")
		}
		return nil, r.Register(ctx, in.Service, time.Duration(in.TTLMS)*time.Millisecond)
	}))
	guest.Handle("deregister", op(func(ctx context.Context, r *localregistry.Registry, in *registerRequest) (any, error) {
		if in.Service == nil {
			return nil, guest.BadRequest("deregister: no service")
		}
		return nil, r.Deregister(ctx, in.Service)
	}))
	guest.Handle("get", op(func(ctx context.Context, r *localregistry.Registry, in *nameRequest) (any, error) {
		svcs, err := r.GetService(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return servicesReply{Services: svcs}, nil
	}))
	guest.Handle("list", op(func(ctx context.Context, r *localregistry.Registry, _ *struct{}) (any, error) {
		names, err := r.ListServices(ctx)
		if err != nil {
			return nil, err
		}
		return namesReply{Names: names}, nil
	}))
	guest.Handle("watch", op(func(ctx context.Context, r *localregistry.Registry, in *watchRequest) (any, error) {
		svcs, index, err := r.Watch(ctx, in.Name, in.Index)
		if err != nil {
			return nil, err
		}
		return servicesReply{Services: svcs, Index: index}, nil
	}))
}

func main() {}
