// Package wasmcomponent is the one adapter between the host and a component that runs as a
// Wasm module, whatever its kind. Load loads a module and checks that it is the component
// its slot asks for — its descriptor's kind and name, and the operations the kind needs —
// and Call runs one operation: the operation's name as the request's endpoint, its input
// record as the body, its output record as the reply body (abi/ABI.md, "Components").
//
// Each kind's host package (internal/codec, internal/selector, internal/transport, internal/broker,
// internal/registry) turns its interface in package component into calls of this adapter.
package wasmcomponent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
)

// Loader loads a module; *host.Runtime satisfies it.
type Loader interface {
	Load(ctx context.Context, path string, opts host.ModuleOptions) (*host.Module, error)
}

// Spec says which component to load and what it must be.
type Spec struct {
	// Kind is the kind the slot takes.
	Kind component.Kind
	// Name is the name the module must declare; empty accepts any name (a module given by
	// path alone).
	Name string
	// Path is the module file.
	Path string
	// Ops are the operations the kind needs; the descriptor must list each as an endpoint.
	Ops []string
	// Options are the module's grants and limits.
	Options host.ModuleOptions
}

// Module is a loaded component module. It is safe for concurrent use.
type Module struct {
	m    *host.Module
	kind component.Kind
	name string
	// reqs holds requests for reuse: the module copies a request's body in and keeps no
	// reference to the request once the call returns, so a hot call does not allocate one.
	reqs sync.Pool
}

// Load loads the module s names and checks it against s. On error nothing stays loaded.
func Load(ctx context.Context, l Loader, s Spec) (*Module, error) {
	m, err := l.Load(ctx, s.Path, s.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Kind, err)
	}
	if err := Check(m.Descriptor(), s); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%s: module %s: %w", s.Kind, s.Path, err)
	}
	d := m.Descriptor()
	return &Module{m: m, kind: s.Kind, name: d.Name}, nil
}

// Check reports how a descriptor fails s: another kind, another name, a missing operation.
func Check(d abi.Descriptor, s Spec) error {
	if component.Kind(d.Kind) != s.Kind {
		return fmt.Errorf("it is a %s module (%q), not a %s", d.Kind, d.Name, s.Kind)
	}
	if s.Name != "" && d.Name != s.Name {
		return fmt.Errorf("it declares itself the %s %q, not %q: a %q module does not fit the %q slot", d.Kind, d.Name, s.Name, d.Name, s.Name)
	}
	var missing []string
	for _, op := range s.Ops {
		if !slices.ContainsFunc(d.Endpoints, func(e abi.Endpoint) bool { return e.Name == op }) {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the %s %q does not serve the operation(s) %s", d.Kind, d.Name, strings.Join(missing, ", "))
	}
	return nil
}

// Kind returns the module's kind.
func (m *Module) Kind() component.Kind { return m.kind }

// Name returns the name the module declares.
func (m *Module) Name() string { return m.name }

// Descriptor returns the module's descriptor.
func (m *Module) Descriptor() abi.Descriptor { return m.m.Descriptor() }

// Host returns the underlying module, for the callers that need its full request shape
// (headers, content type).
func (m *Module) Host() *host.Module { return m.m }

// Call runs operation op with input in and returns the output, a copy the caller owns. An
// error the module reports comes back as the module's *abi.Error (see Code); any other
// failure (a trap, a deadline) is wrapped with the kind, name and operation.
func (m *Module) Call(ctx context.Context, op string, in []byte) ([]byte, error) {
	req, ok := m.reqs.Get().(*host.Request)
	if !ok {
		req = new(host.Request)
	}
	*req = host.Request{Endpoint: op, ContentType: "application/protobuf", Body: in}
	res, err := m.m.Call(ctx, req)
	*req = host.Request{}
	m.reqs.Put(req)
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, fmt.Errorf("%s %s: %s: %w", m.kind, m.name, op, err)
	}
	return res.Body, nil
}

// Close releases the module. It is safe to call more than once.
func (m *Module) Close(ctx context.Context) error { return m.m.Close(ctx) }
