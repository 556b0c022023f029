// Package registry opens microhost's registries for the host. A registry is a component of
// the registry kind (abi/registry.md): the stock ones are local-registry (the embedded
// registry of one machine, a directory of files) and consul-registry (Consul, for many
// machines). Each runs either as its native twin, taken from the catalogue, or as its Wasm
// module, loaded through the generic component adapter; catalogue.Choose decides which.
//
// A registry module reaches only what its grant allows: a "local" registry gets the registry
// directory, mounted at /registry, and nothing else; a "consul" registry gets outbound HTTP
// to the configured agent addresses and nothing else.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// Mode is how a registry runs: the component model's mode.
type Mode = component.Mode

// Modes.
const (
	// ModeAuto runs the native twin when the module file is absent or is the stock build,
	// the module otherwise.
	ModeAuto = component.ModeAuto
	// ModeWasm runs the module; a missing file is an error.
	ModeWasm = component.ModeWasm
	// ModeNative runs the native twin.
	ModeNative = component.ModeNative
)

// ParseMode reads a mode's name: "auto" (or ""), "native" or "wasm".
func ParseMode(s string) (Mode, error) {
	m, err := component.ParseMode(s)
	if err != nil {
		return "", fmt.Errorf("registry mode: %w", err)
	}
	return m, nil
}

// DefaultModule returns the module a registry name stands for by default: "local" →
// "local-registry", "consul" → "consul-registry".
func DefaultModule(name string) string {
	return config.RegistryModule(name)
}

// Registry is an open registry. It is safe for concurrent use; Close it when done.
type Registry struct {
	name, module string
	mode         Mode
	b            component.Registry

	// Set in Wasm mode.
	wasmMod *wasmcomponent.Module
	// auto is the live switch of a registry in mode auto; nil otherwise. It owns the
	// module then.
	auto      *wasmcomponent.Auto
	ownsRT    *host.Runtime
	watchSlot chan struct{}
}

// Name returns the registry's name, "local" or "consul".
func (r *Registry) Name() string { return r.name }

// Module returns the registry's module name, such as "local-registry".
func (r *Registry) Module() string { return r.module }

// Mode returns ModeWasm or ModeNative: how the registry actually runs.
func (r *Registry) Mode() Mode {
	if r.auto != nil {
		if r.auto.Module() != nil {
			return ModeWasm
		}
		return ModeNative
	}
	return r.mode
}

// Register registers (or refreshes) svc's nodes, each valid for ttl unless refreshed.
func (r *Registry) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	return r.b.Register(ctx, svc, ttl)
}

// Deregister removes svc's nodes.
func (r *Registry) Deregister(ctx context.Context, svc *abi.Service) error {
	return r.b.Deregister(ctx, svc)
}

// GetService returns the live registrations of name, one Service per version. It returns an
// error wrapping abi.ErrServiceNotFound when there are none.
func (r *Registry) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	return r.b.GetService(ctx, name)
}

// ListServices returns the names of registered services, sorted.
func (r *Registry) ListServices(ctx context.Context) ([]string, error) {
	return r.b.ListServices(ctx)
}

// Watch blocks until the registrations of name differ from those index stands for (0
// answers at once) or the registry's wait bound passes, and returns the current
// registrations (empty when none is live) and the index to pass next.
func (r *Registry) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	if r.watchSlot != nil {
		// A Wasm watch holds an instance while it waits; bound how many may, so that
		// registrations and lookups always find one.
		select {
		case r.watchSlot <- struct{}{}:
			defer func() { <-r.watchSlot }()
		case <-ctx.Done():
			return nil, index, ctx.Err()
		}
	}
	return r.b.Watch(ctx, name, index)
}

// Close releases the module (in Wasm mode). It is safe to call more than once.
func (r *Registry) Close(ctx context.Context) error {
	var errs []error
	if r.wasmMod != nil {
		errs = append(errs, r.wasmMod.Close(ctx))
		r.wasmMod = nil
	}
	if r.auto != nil {
		r.auto.Close()
	}
	if r.ownsRT != nil {
		errs = append(errs, r.ownsRT.Close(ctx))
		r.ownsRT = nil
	}
	return errors.Join(errs...)
}

// Options say which registry to open and how. OptionsFromConfig makes them from a service's
// config.
type Options struct {
	// Name is "local" (the default) or "consul": which settings the registry gets and what
	// its module is granted.
	Name string
	// Module is the registry's module name; empty means DefaultModule(Name).
	Module string
	// Path is the module file; empty means PluginDir/Module.wasm.
	Path string
	// PluginDir is the plugin folder.
	PluginDir string
	// Mode chooses the twin; empty means ModeAuto.
	Mode Mode
	// PoolSize bounds instances for operations other than Watch in Wasm mode. Zero means 4.
	PoolSize int
	// MaxWatches bounds concurrent Watch calls in Wasm mode, each of which holds an
	// instance while it waits. Zero means 8.
	MaxWatches int
	// CacheDir is the compilation cache of a runtime Open makes ("" default, "off").
	CacheDir string

	// Dir is a local registry's directory. Empty means DefaultDir().
	Dir string
	// Addresses are Consul agents' HTTP addresses, "host:port" or "http(s)://host:port",
	// tried in order. Empty means 127.0.0.1:8500.
	Addresses []string
	// Token is the Consul ACL token.
	Token string
	// TLS, when Enabled or when any file is set, makes a Consul registry speak https.
	TLS TLSOptions
	// DeregisterCriticalAfter is how long a node's Consul check may stay critical before
	// Consul removes it; zero means Go Micro's max(ttl, 1m) + 5s.
	DeregisterCriticalAfter time.Duration
	// WatchWait bounds one Watch. Zero means 30 s.
	WatchWait time.Duration
	// PollInterval is how often a local Watch looks at the directory. Zero means 100 ms.
	PollInterval time.Duration
}

// DefaultWatchWait bounds a Watch when Options.WatchWait is zero.
const DefaultWatchWait = 30 * time.Second

// Operation bounds for a context with no deadline.
const opTimeout = 15 * time.Second

// plan is what opening a registry of one name needs: the settings both twins get (the
// Wasm twin's differ only in what the grant translates, such as the directory), and the
// module's grant.
type plan struct {
	native, wasm component.RegistrySettings
	grant        host.ModuleOptions
	// watchWait bounds a Watch; chunk, when set, splits a Wasm watch into calls that short
	// and leaves the module uninterrupted (see wasm.chunk).
	watchWait, chunk time.Duration
}

// Open opens the registry o describes: it chooses the twin through cat.Choose (logging the
// choice), builds the native twin from the catalogue, or loads the module through l (nil:
// a runtime made here, released by Close, and only when the module runs).
func Open(ctx context.Context, o Options, cat *component.Catalogue, l wasmcomponent.Loader, logger *slog.Logger) (*Registry, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "local"
	}
	var p plan
	var err error
	switch o.Name {
	case "local":
		p, err = o.local()
	case "consul":
		p, err = o.consul()
	default:
		return nil, fmt.Errorf("unknown registry %q (known: local, consul)", o.Name)
	}
	if err != nil {
		return nil, err
	}
	module := o.Module
	if module == "" {
		module = DefaultModule(o.Name)
	}
	path := o.Path
	if path == "" && o.PluginDir != "" {
		path = filepath.Join(o.PluginDir, module+".wasm")
	}
	ch, err := cat.Choose(component.KindRegistry, module, o.Mode, path)
	if err != nil {
		return nil, err
	}
	logger.Info("component", ch.LogArgs()...)
	p.grant.StartupTrusted = cat.StockBuild(component.KindRegistry, module)
	if ch.Mode == component.ModeNative {
		twin, ok := ch.Twin.Native.(component.RegistryTwin)
		if !ok || twin.New == nil {
			return nil, fmt.Errorf("registry %q: the native twin is a %T, not a component.RegistryTwin", module, ch.Twin.Native)
		}
		b, err := twin.New(ctx, p.native)
		if err != nil {
			return nil, fmt.Errorf("registry %q: %w", module, err)
		}
		r := &Registry{name: o.Name, module: module, mode: ModeNative, b: timed{b, opTimeout, p.watchWait + opTimeout}}
		if o.Mode == ModeAuto && l != nil {
			r.switchable(o, p, module, path, r.b, nil)
		}
		return r, nil
	}
	r, err := o.loadWasm(ctx, l, logger, module, ch.Path, p)
	if err != nil || o.Mode != ModeAuto || r.ownsRT != nil {
		return r, err
	}
	if twin, ok := ch.Twin.Native.(component.RegistryTwin); ok && twin.New != nil {
		b, err := twin.New(ctx, p.native)
		if err != nil {
			logger.Warn("registry: the native twin cannot start, so the module is not switched live to it", "module", module, "err", err)
			return r, nil
		}
		r.switchable(o, p, module, path, timed{b, opTimeout, p.watchWait + opTimeout}, r.wasmMod)
	}
	return r, nil
}

// switchable makes r, a registry in mode auto, one the service can change live between its
// native twin (native) and its module as the file at path changes (Auto); m is the module
// serving now, nil when the twin is.
func (r *Registry) switchable(o Options, p plan, module, path string, native component.Registry, m *wasmcomponent.Module) {
	sw := wasmcomponent.NewSwitch(r.b, m)
	a := wasmcomponent.NewAuto(o.spec(p, module, path), sw, native, func(m *wasmcomponent.Module) (component.Registry, error) {
		return p.backend(m), nil
	})
	r.b, r.auto, r.wasmMod = switchingRegistry{sw}, &a, nil
	if r.watchSlot == nil {
		r.watchSlot = make(chan struct{}, o.maxWatches())
	}
}

// Auto returns the registry's live switch between its native twin and its module, or nil
// when it is not in mode auto.
func (r *Registry) Auto() *wasmcomponent.Auto { return r.auto }

// switchingRegistry is a registry whose calls run on whatever its Switch holds now; a watch
// in flight finishes on the twin or module it started on.
type switchingRegistry struct {
	sw *wasmcomponent.Switch[component.Registry]
}

// use runs f on the current registry.
func use[R any](s switchingRegistry, f func(component.Registry) (R, error)) (R, error) {
	h := s.sw.Acquire()
	if h == nil {
		var zero R
		return zero, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return f(h.Value())
}

func (s switchingRegistry) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	_, err := use(s, func(b component.Registry) (struct{}, error) { return struct{}{}, b.Register(ctx, svc, ttl) })
	return err
}

func (s switchingRegistry) Deregister(ctx context.Context, svc *abi.Service) error {
	_, err := use(s, func(b component.Registry) (struct{}, error) { return struct{}{}, b.Deregister(ctx, svc) })
	return err
}

func (s switchingRegistry) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	return use(s, func(b component.Registry) ([]*abi.Service, error) { return b.GetService(ctx, name) })
}

func (s switchingRegistry) ListServices(ctx context.Context) ([]string, error) {
	return use(s, func(b component.Registry) ([]string, error) { return b.ListServices(ctx) })
}

func (s switchingRegistry) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	var next uint64
	svcs, err := use(s, func(b component.Registry) ([]*abi.Service, error) {
		var err error
		var out []*abi.Service
		out, next, err = b.Watch(ctx, name, index)
		return out, err
	})
	if err != nil && next == 0 {
		next = index
	}
	return svcs, next, err
}

// loadWasm loads the module at path with the plan's grant.
func (o Options) loadWasm(ctx context.Context, l wasmcomponent.Loader, logger *slog.Logger, module, path string, p plan) (*Registry, error) {
	var owned *host.Runtime
	if l == nil {
		rt, err := host.NewRuntime(ctx, host.Options{CacheDir: o.CacheDir, Logger: logger})
		if err != nil {
			return nil, err
		}
		owned, l = rt, rt
	}
	m, err := wasmcomponent.Load(ctx, l, o.spec(p, module, path))
	if err != nil {
		if owned != nil {
			_ = owned.Close(ctx)
		}
		return nil, err
	}
	return &Registry{name: o.Name, module: module, mode: ModeWasm, b: p.backend(m), wasmMod: m, ownsRT: owned, watchSlot: make(chan struct{}, o.maxWatches())}, nil
}

// maxWatches bounds the watches in flight at once (default 8).
func (o Options) maxWatches() int {
	if o.MaxWatches <= 0 {
		return 8
	}
	return o.MaxWatches
}

// spec is what the registry module at path is loaded as: its operations, and the plan's
// grant with room in the pool for every watch in flight.
func (o Options) spec(p plan, module, path string) wasmcomponent.Spec {
	pool := o.PoolSize
	if pool <= 0 {
		pool = 4
	}
	grant := p.grant
	grant.PoolSize = pool + o.maxWatches()
	// Stopping a guest closes its instance from another goroutine, which must not happen
	// while the guest is inside a WASI file call; a module with files is therefore not
	// interrupted and keeps its calls short instead.
	grant.InterruptOnDeadline = p.chunk == 0
	return wasmcomponent.Spec{Kind: component.KindRegistry, Name: module, Path: path, Ops: component.RegistryOps, Options: grant}
}

// backend is the registry operations of module m, with the plan's settings.
func (p plan) backend(m *wasmcomponent.Module) *wasm {
	one := p.watchWait
	if p.chunk > 0 {
		one = p.chunk
	}
	return &wasm{m: m, settings: p.wasm, watchTimeout: one + opTimeout, chunk: p.chunk, watchWait: p.watchWait}
}

// wasm is the Wasm twin: the registry operations of a module (abi/registry.md).
type wasm struct {
	m *wasmcomponent.Module
	// settings are sent in every request.
	settings component.RegistrySettings
	// watchTimeout bounds one watch call whose context has no deadline.
	watchTimeout time.Duration
	// chunk, when set, is the wait of one watch call: Watch repeats calls of that length
	// until the registrations change, watchWait passes or its context ends, so a module that
	// is not interrupted still notices cancellation within a chunk.
	chunk     time.Duration
	watchWait time.Duration
}

// moduleError is an error a registry module reported: its detail reads as the message, the
// *abi.Error (with the code) is what it wraps.
type moduleError struct{ e *abi.Error }

func (m moduleError) Error() string { return m.e.Detail }
func (m moduleError) Unwrap() error { return m.e }

// call runs one operation. A 404 from the module wraps abi.ErrServiceNotFound.
func (w *wasm) call(ctx context.Context, timeout time.Duration, op string, in *component.RegistryRequest) (*component.RegistryReply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	in.Settings = w.settings
	out, err := w.m.Call(ctx, op, in.Marshal())
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			if ae.Code == 404 {
				// The module's detail already says "service not found: NAME".
				return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, strings.TrimPrefix(ae.Detail, abi.ErrServiceNotFound.Error()+": "))
			}
			return nil, moduleError{ae}
		}
		return nil, err
	}
	var rep component.RegistryReply
	if err := rep.Unmarshal(out); err != nil {
		return nil, fmt.Errorf("registry %s: %s: malformed reply: %w", w.m.Name(), op, err)
	}
	return &rep, nil
}

func (w *wasm) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	_, err := w.call(ctx, opTimeout, "register", &component.RegistryRequest{Service: svc, TTL: ttl})
	return err
}

func (w *wasm) Deregister(ctx context.Context, svc *abi.Service) error {
	_, err := w.call(ctx, opTimeout, "deregister", &component.RegistryRequest{Service: svc})
	return err
}

func (w *wasm) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	rep, err := w.call(ctx, opTimeout, "get", &component.RegistryRequest{Name: name})
	if err != nil {
		return nil, err
	}
	if len(rep.Services) == 0 {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	return rep.Services, nil
}

func (w *wasm) ListServices(ctx context.Context) ([]string, error) {
	rep, err := w.call(ctx, opTimeout, "list", &component.RegistryRequest{})
	if err != nil {
		return nil, err
	}
	return rep.Names, nil
}

func (w *wasm) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	if w.chunk <= 0 {
		return w.watchOnce(ctx, name, index)
	}
	deadline := time.Now().Add(w.watchWait)
	for {
		svcs, next, err := w.watchOnce(ctx, name, index)
		switch {
		case err != nil:
			return nil, index, err
		case next != index || !time.Now().Before(deadline):
			return svcs, next, nil
		case ctx.Err() != nil:
			return nil, index, ctx.Err()
		}
	}
}

func (w *wasm) watchOnce(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	rep, err := w.call(ctx, w.watchTimeout, "watch", &component.RegistryRequest{Name: name, Index: index})
	if err != nil {
		return nil, index, err
	}
	return rep.Services, rep.Index, nil
}

// timed bounds a native twin's operations whose context has no deadline, as the Wasm twin
// does.
type timed struct {
	component.Registry
	op, watch time.Duration
}

func (t timed) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (t timed) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.Registry.Register(ctx, svc, ttl)
}

func (t timed) Deregister(ctx context.Context, svc *abi.Service) error {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.Registry.Deregister(ctx, svc)
}

func (t timed) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.Registry.GetService(ctx, name)
}

func (t timed) ListServices(ctx context.Context) ([]string, error) {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.Registry.ListServices(ctx)
}

func (t timed) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	ctx, cancel := t.bound(ctx, t.watch)
	defer cancel()
	return t.Registry.Watch(ctx, name, index)
}

// FromConfig returns the Options of a service's [registry] table (after config.Finish):
// the component (module, path, mode, pool_size, [registry.options]) and the registry's
// settings, with Consul settings left empty taken from Consul's standard environment
// variables (see Options.ApplyEnv) through getenv (nil: none).
func FromConfig(cfg *config.Config, getenv func(string) string) (Options, error) {
	r := cfg.Registry
	mode, err := ParseMode(r.Mode)
	if err != nil {
		return Options{}, err
	}
	opts, err := r.DecodeOptions()
	if err != nil {
		return Options{}, err
	}
	o := Options{
		Name:                    r.Name,
		Module:                  r.Module,
		Path:                    r.Path,
		PluginDir:               cfg.Plugins.Dir,
		Mode:                    mode,
		PoolSize:                r.PoolSize,
		CacheDir:                cfg.Plugins.CacheDir,
		Token:                   r.Token,
		TLS:                     TLSOptions{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile, InsecureSkipVerify: r.TLSInsecureSkipVerify},
		DeregisterCriticalAfter: r.DeregisterCriticalAfter.D(),
		WatchWait:               opts.WatchWait.D(),
		PollInterval:            opts.PollInterval.D(),
	}
	switch r.Name {
	case "consul":
		o.Addresses = splitList(r.Address)
		if getenv != nil {
			if err := o.ApplyEnv(getenv); err != nil {
				return Options{}, err
			}
		}
	default:
		o.Dir = r.Address
	}
	return o, nil
}
