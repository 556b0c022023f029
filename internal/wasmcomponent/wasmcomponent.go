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
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

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

// Module is a loaded component module. It is safe for concurrent use. Its module can be
// replaced while it serves (Reload): each call runs on the module current when it started.
type Module struct {
	live *Live
	spec Spec
	kind component.Kind
	name string
	// reqs holds requests for reuse: the module copies a request's body in and keeps no
	// reference to the request once the call returns, so a hot call does not allocate one.
	reqs      sync.Pool
	closeOnce sync.Once
}

// Tracker is told of every component module Load loads through a Loader that implements it,
// so that a service can swap each of them live whatever kind's host package loaded it.
type Tracker interface {
	Track(m *Module)
}

// Load loads the module s names and checks it against s. On error nothing stays loaded.
func Load(ctx context.Context, l Loader, s Spec) (*Module, error) {
	if bl, ok := l.(BytesLoader); ok {
		// Loaded from the bytes fingerprinted, so the digest is the module's.
		wasm, err := os.ReadFile(s.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: load module: %w", s.Kind, err)
		}
		return LoadBytes(ctx, bl, s, wasm)
	}
	m, err := l.Load(ctx, s.Path, s.Options)
	return adopt(ctx, l, s, m, "", err)
}

// LoadBytes is Load of wasm, the content of the file s names, which the caller has read.
func LoadBytes(ctx context.Context, l BytesLoader, s Spec, wasm []byte) (*Module, error) {
	m, err := l.LoadBytes(ctx, s.Path, wasm, s.Options)
	return adopt(ctx, l, s, m, Digest(wasm), err)
}

// adopt finishes a load through l: m, whose bytes have the given digest ("" when unknown),
// loaded with error err, is checked against s, wrapped, and told to l if it tracks loads.
func adopt(ctx context.Context, l any, s Spec, m *host.Module, digest string, err error) (*Module, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Kind, err)
	}
	if err := Check(m.Descriptor(), s); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%s: module %s: %w", s.Kind, s.Path, err)
	}
	d := m.Descriptor()
	out := &Module{live: NewLive(m, digest), spec: s, kind: s.Kind, name: d.Name}
	if t, ok := l.(Tracker); ok {
		t.Track(out)
	}
	return out, nil
}

// Swapped describes one live swap, for the log.
type Swapped struct {
	// Old and New are the digests of the module files.
	Old, New string
	// Compile is how long the new module took to read, compile, initialize, check and warm;
	// Switch how long making it current took.
	Compile, Switch time.Duration
}

// Reload swaps in the module now in the component's file, if its content changed: it is
// compiled, checked as at start-up (kind, name, operations; check too when not nil, given
// the descriptor and the bytes loaded) and
// warmed off the request path, then made current at once; calls in flight finish on the old
// module, which is closed once they have. It returns nil and no error when the file is
// unchanged. A file that fails leaves the running module serving.
func (m *Module) Reload(ctx context.Context, l BytesLoader, check func(d abi.Descriptor, wasm []byte) error) (*Swapped, error) {
	old := m.live.Digest()
	if wasm, err := os.ReadFile(m.spec.Path); err == nil && Digest(wasm) == old {
		return nil, nil
	}
	s := m.spec
	s.Name = m.name // a module given by path alone keeps the name it declared
	c, err := Prepare(ctx, l, s, runtime.GOMAXPROCS(0), func(d abi.Descriptor, wasm []byte) error {
		if err := Check(d, s); err != nil {
			return err
		}
		if check != nil {
			return check(d, wasm)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", m.kind, m.name, err)
	}
	if c.Digest == old {
		_ = c.Module.Close(context.WithoutCancel(ctx))
		return nil, nil
	}
	start := time.Now()
	m.live.Swap(c)
	return &Swapped{Old: old, New: c.Digest, Compile: c.Compile, Switch: time.Since(start)}, nil
}

// Path returns the component's module file.
func (m *Module) Path() string { return m.spec.Path }

// Digest returns the digest of the module serving now, or "" when the loader could not
// fingerprint it.
func (m *Module) Digest() string { return m.live.Digest() }

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
func (m *Module) Descriptor() abi.Descriptor { return m.live.Descriptor() }

// Call runs operation op with input in and returns the output, a copy the caller owns. An
// error the module reports comes back as the module's *abi.Error (see Code); any other
// failure (a trap, a deadline) is wrapped with the kind, name and operation.
func (m *Module) Call(ctx context.Context, op string, in []byte) ([]byte, error) {
	return m.CallAppend(ctx, op, in, nil)
}

// CallAppend is Call with the output appended to dst, which it returns, grown as needed
// (dst unchanged with an error): a caller with a buffer of its own gets the output without
// an allocation of its own.
func (m *Module) CallAppend(ctx context.Context, op string, in, dst []byte) ([]byte, error) {
	req, ok := m.reqs.Get().(*host.Request)
	if !ok {
		req = new(host.Request)
	}
	*req = host.Request{Endpoint: op, ContentType: "application/protobuf", Body: in, ReplyTo: dst}
	ls := m.live.acquire()
	if ls == nil {
		*req = host.Request{}
		m.reqs.Put(req)
		return dst, fmt.Errorf("%s %s: %s: %w", m.kind, m.name, op, ErrClosed)
	}
	res, err := ls.m.Call(ctx, req)
	ls.release()
	*req = host.Request{}
	m.reqs.Put(req)
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			return dst, err
		}
		return dst, fmt.Errorf("%s %s: %s: %w", m.kind, m.name, op, err)
	}
	return res.Body, nil
}

// Close releases the module once its calls in flight have returned. It is safe to call more
// than once.
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(m.live.Close)
	return nil
}

// Warm starts up to n instances of the module serving now, so that the first calls after a
// live swap do not pay for instantiation.
func (m *Module) Warm(ctx context.Context, n int) error {
	ls := m.live.acquire()
	if ls == nil {
		return ErrClosed
	}
	defer ls.release()
	return ls.m.Warm(ctx, n)
}
