package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	hostregistry "github.com/microhost/microhost/internal/registry"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// ConsulAddrEnv names the environment variable that gives the registry suite a Consul agent:
// a registry module or twin named "consul-registry" is checked against the agent at that
// address ("host:port"), and fails to load without it. Every other registry is checked
// against a fresh local registry directory (a temporary directory, mounted at /registry for
// a module).
const ConsulAddrEnv = "CONSUL_HTTP_ADDR"

// registryWatchWait bounds the suite's watches, so that "blocks while nothing changes" takes
// about this long.
const registryWatchWait = time.Second

// registryImpl is what the registry suite checks: the registry as the host opens it and, for
// a module, the module itself, to send it malformed input.
type registryImpl struct {
	reg component.Registry
	raw *wasmcomponent.Module
}

func registrySuite() suite {
	return suite{
		ops: component.RegistryOps,
		wasm: func(ctx context.Context, l wasmcomponent.Loader, path, name string) (any, func(context.Context) error, error) {
			o, cleanup, err := registryOptions(name)
			if err != nil {
				return nil, nil, err
			}
			o.Mode, o.Module, o.Path = hostregistry.ModeWasm, name, path
			reg, err := hostregistry.Open(ctx, o, component.NewCatalogue(), l, nil)
			if err != nil {
				cleanup()
				return nil, nil, err
			}
			raw, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{Kind: component.KindRegistry, Name: name, Path: path, Ops: component.RegistryOps})
			if err != nil {
				_ = reg.Close(ctx)
				cleanup()
				return nil, nil, err
			}
			release := func(ctx context.Context) error {
				defer cleanup()
				return errors.Join(raw.Close(ctx), reg.Close(ctx))
			}
			return registryImpl{reg: reg, raw: raw}, release, nil
		},
		native: func(ctx context.Context, t component.Twin) (any, func(context.Context) error, error) {
			o, cleanup, err := registryOptions(t.Name)
			if err != nil {
				return nil, nil, err
			}
			cat := component.NewCatalogue()
			if err := cat.Add(t); err != nil {
				cleanup()
				return nil, nil, err
			}
			o.Mode, o.Module = hostregistry.ModeNative, t.Name
			reg, err := hostregistry.Open(ctx, o, cat, nil, nil)
			if err != nil {
				cleanup()
				return nil, nil, err
			}
			release := func(ctx context.Context) error {
				defer cleanup()
				return reg.Close(ctx)
			}
			return registryImpl{reg: reg}, release, nil
		},
		check: func(ctx context.Context, r *Report, impl any) {
			checkRegistry(ctx, r, impl.(registryImpl))
		},
	}
}

// registryOptions returns the options the suite opens the registry named name with, and what
// removes what they made.
func registryOptions(name string) (hostregistry.Options, func(), error) {
	o := hostregistry.Options{WatchWait: registryWatchWait, PollInterval: 10 * time.Millisecond, PoolSize: 2, MaxWatches: 2}
	if name == "consul-registry" {
		addr := os.Getenv(ConsulAddrEnv)
		if addr == "" {
			return o, nil, fmt.Errorf("registry %q needs a Consul agent: set %s to its address (host:port)", name, ConsulAddrEnv)
		}
		o.Name, o.Addresses = "consul", []string{addr}
		return o, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "microhost-conformance-registry-")
	if err != nil {
		return o, nil, err
	}
	o.Name, o.Dir = "local", dir
	return o, func() { _ = os.RemoveAll(dir) }, nil
}

// eventually polls fn until it returns nil or about five seconds pass, and returns its last
// error.
func eventually(ctx context.Context, fn func() error) error {
	return eventuallyWithin(ctx, 5*time.Second, fn)
}

// eventuallyWithin is eventually with its own bound.
func eventuallyWithin(ctx context.Context, bound time.Duration, fn func() error) error {
	deadline := time.Now().Add(bound)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nodeIDs lists the IDs of the nodes of svcs, sorted.
func nodeIDs(svcs []*abi.Service) []string {
	var ids []string
	for _, s := range svcs {
		for _, n := range s.Nodes {
			ids = append(ids, n.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func checkRegistry(ctx context.Context, r *Report, impl registryImpl) {
	reg := impl.reg
	name := "conformance-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	node := func(i int) *abi.Service {
		id := name + "-" + strconv.Itoa(i)
		return &abi.Service{
			Name: name, Version: "1.0.0",
			Metadata:  map[string]string{"team": "conformance"},
			Endpoints: []abi.Endpoint{{Name: "Greeter.Hello", Metadata: map[string]string{"stream": "false"}}},
			Nodes:     []abi.Node{{ID: id, Address: "127.0.0.1:" + strconv.Itoa(40000+i), Metadata: map[string]string{"protocol": "mucp"}}},
		}
	}
	one, two := node(1), node(2)
	defer func() {
		ctx := context.WithoutCancel(ctx)
		_ = reg.Deregister(ctx, one)
		_ = reg.Deregister(ctx, two)
	}()

	// A registration with a short TTL goes in first, so that it lapses while the watches
	// below wait, rather than after them: a registry module's swap waits for this suite.
	short := node(3)
	short.Name = name + "-ttl"
	shortErr := reg.Register(ctx, short, time.Second)

	err := reg.Register(ctx, one, time.Minute)
	r.Check("register", err)
	r.Check("get returns the registered node", eventually(ctx, func() error {
		svcs, err := reg.GetService(ctx, name)
		switch {
		case err != nil:
			return err
		case len(svcs) != 1 || svcs[0].Name != name || svcs[0].Version != "1.0.0":
			return fmt.Errorf("got %d services, want %s at version 1.0.0", len(svcs), name)
		case len(svcs[0].Nodes) != 1:
			return fmt.Errorf("got %d nodes, want 1", len(svcs[0].Nodes))
		}
		n := svcs[0].Nodes[0]
		if n.ID != one.Nodes[0].ID || n.Address != one.Nodes[0].Address {
			return fmt.Errorf("got node %s at %s, want %s at %s", n.ID, n.Address, one.Nodes[0].ID, one.Nodes[0].Address)
		}
		return nil
	}))

	names, err := reg.ListServices(ctx)
	if err == nil && !slices.Contains(names, name) {
		err = fmt.Errorf("%q is not among %q", name, names)
	}
	r.Check("list includes the registered service", err)

	_, err = reg.GetService(ctx, name+"-absent")
	r.Checkf("get of an unknown service is a 404 (service not found)", errors.Is(err, abi.ErrServiceNotFound), "got %v", err)

	start := time.Now()
	svcs, index, err := reg.Watch(ctx, name, 0)
	switch {
	case err != nil:
	case time.Since(start) > registryWatchWait/2:
		err = fmt.Errorf("took %s", time.Since(start).Round(time.Millisecond))
	case index == 0:
		err = errors.New("returned index 0")
	case len(nodeIDs(svcs)) != 1:
		err = fmt.Errorf("returned nodes %q, want 1", nodeIDs(svcs))
	}
	r.Check("watch from index 0 answers at once with the registrations", err)

	if err == nil {
		start = time.Now()
		_, same, err := reg.Watch(ctx, name, index)
		if err == nil && same != index {
			// A registry may answer early; it must not claim a change that did not happen.
			if _, again, err2 := reg.Watch(ctx, name, 0); err2 == nil && again != same {
				err = fmt.Errorf("index moved from %d to %d with no change", index, same)
			}
		} else if err == nil && time.Since(start) < registryWatchWait/4 {
			err = fmt.Errorf("returned the same index after %s, without waiting", time.Since(start).Round(time.Millisecond))
		}
		r.Check("watch blocks while nothing changes", err)

		type result struct {
			svcs  []*abi.Service
			index uint64
			err   error
		}
		done := make(chan result, 1)
		go func() {
			// Watch until the second node shows, as a watcher does.
			idx := index
			for range 20 {
				svcs, next, err := reg.Watch(ctx, name, idx)
				if err != nil || len(nodeIDs(svcs)) == 2 {
					done <- result{svcs, next, err}
					return
				}
				idx = next
			}
			done <- result{nil, idx, errors.New("the change never showed")}
		}()
		time.Sleep(100 * time.Millisecond)
		err = reg.Register(ctx, two, time.Minute)
		res := <-done
		switch {
		case err != nil:
		case res.err != nil:
			err = res.err
		case res.index == index:
			err = errors.New("returned the old index")
		}
		r.Check("watch returns a new index when the registrations change", err)
	}

	err = reg.Deregister(ctx, two)
	if err == nil {
		err = eventually(ctx, func() error {
			svcs, err := reg.GetService(ctx, name)
			if err != nil {
				return err
			}
			if ids := nodeIDs(svcs); len(ids) != 1 {
				return fmt.Errorf("nodes %q remain", ids)
			}
			return nil
		})
	}
	r.Check("deregister removes the node", err)
	err = reg.Deregister(ctx, one)
	if err == nil {
		err = eventually(ctx, func() error {
			if _, err := reg.GetService(ctx, name); !errors.Is(err, abi.ErrServiceNotFound) {
				return fmt.Errorf("get after the last deregister: %v", err)
			}
			return nil
		})
	}
	r.Check("deregister of the last node makes the service unknown", err)

	err = shortErr
	if err == nil {
		// The registry's own clock decides when a TTL lapses: Consul's agent marks the check
		// critical, then syncs it to the catalog, which on a loaded machine took over 5 s.
		err = eventuallyWithin(ctx, 20*time.Second, func() error {
			if _, err := reg.GetService(ctx, short.Name); !errors.Is(err, abi.ErrServiceNotFound) {
				return fmt.Errorf("still registered (%v)", err)
			}
			return nil
		})
		_ = reg.Deregister(context.WithoutCancel(ctx), short)
	}
	r.Check("a registration expires after its ttl", err)

	err = reg.Register(ctx, &abi.Service{Version: "1"}, time.Minute)
	r.Checkf("register of a service with no name is refused", err != nil, "it was accepted")

	if impl.raw != nil {
		for _, op := range component.RegistryOps {
			_, err := impl.raw.Call(ctx, op, []byte{0xff, 0xff, 0xff, 0xff})
			var ae *abi.Error
			r.Checkf(op+" refuses malformed input with a 400, not a trap", errors.As(err, &ae) && ae.Code == 400, "got %v", err)
		}
		_, err := reg.ListServices(ctx)
		r.Check("the module still serves after malformed input", err)
	}
}
