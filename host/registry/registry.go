// Package registry opens microhost's registries for the host: Consul (many machines) and the
// embedded local registry (one machine), each either as its Wasm plugin — consul-registry.wasm
// or local-registry.wasm from the plugin folder — or as the native twin compiled into the
// host. Both modes run the same Go package and give the same answers.
//
// A Wasm registry reaches only what its grant allows: the Consul plugin gets outbound HTTP to
// the configured agent addresses and nothing else; the local plugin gets the registry
// directory, mounted at /registry, and nothing else.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
)

// Mode chooses how a registry runs.
type Mode string

// Modes.
const (
	// ModeAuto runs the Wasm plugin when its file is in the plugin folder, else the native
	// twin.
	ModeAuto Mode = ""
	// ModeWasm runs the plugin; a missing file is an error.
	ModeWasm Mode = "wasm"
	// ModeNative runs the native twin.
	ModeNative Mode = "native"
)

// ParseMode checks a mode's name ("", "wasm" or "native").
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeWasm, ModeNative:
		return m, nil
	}
	return "", fmt.Errorf("registry mode %q is neither wasm nor native", s)
}

// backend is what both modes implement.
type backend interface {
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	Deregister(ctx context.Context, svc *abi.Service) error
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
	ListServices(ctx context.Context) ([]string, error)
	Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error)
}

// Registry is an open registry. It is safe for concurrent use; Close it when done.
type Registry struct {
	name string
	mode Mode
	b    backend

	// Set in Wasm mode.
	module    *host.Module
	ownsRT    *host.Runtime
	watchSlot chan struct{}
}

// Name returns "consul" or "local".
func (r *Registry) Name() string { return r.name }

// Mode returns ModeWasm or ModeNative: how the registry actually runs.
func (r *Registry) Mode() Mode { return r.mode }

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

// Close releases the plugin (in Wasm mode). It is safe to call more than once.
func (r *Registry) Close(ctx context.Context) error {
	var errs []error
	if r.module != nil {
		errs = append(errs, r.module.Close(ctx))
		r.module = nil
	}
	if r.ownsRT != nil {
		errs = append(errs, r.ownsRT.Close(ctx))
		r.ownsRT = nil
	}
	return errors.Join(errs...)
}

// PluginOptions say where a registry plugin comes from and how it runs in Wasm mode.
type PluginOptions struct {
	// Mode chooses Wasm or native; ModeAuto (the default) prefers the plugin when present.
	Mode Mode
	// PluginDir is the plugin folder; the plugin is loaded from PluginDir/<name>-registry.wasm.
	PluginDir string
	// Runtime loads the plugin. Nil makes one (with CacheDir) that Close releases.
	Runtime *host.Runtime
	// CacheDir is the compilation cache for a runtime made here ("" default, "off").
	CacheDir string
	// Logger receives the plugin's log output. Nil discards it.
	Logger *slog.Logger
	// MaxWatches bounds concurrent Watch calls in Wasm mode, each of which holds an
	// instance while it waits. Zero means 8.
	MaxWatches int
	// PoolSize bounds instances for the other operations in Wasm mode. Zero means 4.
	PoolSize int
}

// pluginPath returns the plugin's file and whether to run it, per the mode.
func (o PluginOptions) pluginPath(file string) (string, bool, error) {
	path := filepath.Join(o.PluginDir, file)
	switch o.Mode {
	case ModeNative:
		return "", false, nil
	case ModeWasm:
		if o.PluginDir == "" {
			return "", false, fmt.Errorf("registry mode wasm needs a plugin folder holding %s", file)
		}
		return path, true, nil
	}
	if o.PluginDir == "" {
		return "", false, nil
	}
	if _, err := os.Stat(path); err != nil {
		return "", false, nil
	}
	return path, true, nil
}

// wasm is a backend that calls a registry plugin's operations (abi/ABI.md, "Registry plugins").
type wasm struct {
	m *host.Module
	// config is the Registry-Config header sent with every call.
	config string
	// opTimeout bounds an operation whose context has no deadline; watchTimeout one watch
	// call.
	opTimeout    time.Duration
	watchTimeout time.Duration
	// chunk, when set, is the wait of one watch call: Watch repeats calls of that length
	// until the registrations change, watchWait passes or its context ends, so a plugin that
	// is not interrupted still notices cancellation within a chunk.
	chunk     time.Duration
	watchWait time.Duration
}

// pluginSpec is one registry plugin to load.
type pluginSpec struct {
	name, path string
	// grant is what the plugin may reach.
	grant host.ModuleOptions
	// config is sent as the Registry-Config header.
	config any
	// watchWait bounds a Watch; chunk, when set, splits it into calls that short and
	// leaves the plugin uninterrupted (see wasm.chunk).
	watchWait, chunk time.Duration
}

// loadPlugin loads path with grant and returns the Wasm-mode Registry around it.
func loadPlugin(ctx context.Context, o PluginOptions, spec pluginSpec) (*Registry, error) {
	name, path, grant := spec.name, spec.path, spec.grant
	rt := o.Runtime
	var owned *host.Runtime
	if rt == nil {
		var err error
		rt, err = host.NewRuntime(ctx, host.Options{CacheDir: o.CacheDir, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		owned = rt
	}
	maxWatches := o.MaxWatches
	if maxWatches <= 0 {
		maxWatches = 8
	}
	pool := o.PoolSize
	if pool <= 0 {
		pool = 4
	}
	grant.PoolSize = pool + maxWatches
	// Stopping a guest closes its instance from another goroutine, which must not happen
	// while the guest is inside a WASI file call; a plugin with files is therefore not
	// interrupted and keeps its calls short instead.
	grant.InterruptOnDeadline = spec.chunk == 0
	m, err := rt.Load(ctx, path, grant)
	if err != nil {
		if owned != nil {
			_ = owned.Close(ctx)
		}
		return nil, fmt.Errorf("%s registry: %w", name, err)
	}
	if kind := m.Descriptor().Kind; kind != abi.KindRegistry {
		_ = m.Close(ctx)
		if owned != nil {
			_ = owned.Close(ctx)
		}
		return nil, fmt.Errorf("%s registry: %s is a %s module, not a registry", name, path, kind)
	}
	cfg, err := json.Marshal(spec.config)
	if err != nil {
		return nil, err
	}
	one := spec.watchWait
	if spec.chunk > 0 {
		one = spec.chunk
	}
	w := &wasm{m: m, config: string(cfg), opTimeout: 15 * time.Second, watchTimeout: one + 15*time.Second, chunk: spec.chunk, watchWait: spec.watchWait}
	return &Registry{name: name, mode: ModeWasm, b: w, module: m, ownsRT: owned, watchSlot: make(chan struct{}, maxWatches)}, nil
}

// call runs one operation: in is sent as JSON, the reply decoded into out (when not nil). A
// 404 from the plugin wraps abi.ErrServiceNotFound.
func (w *wasm) call(ctx context.Context, timeout time.Duration, op string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	rsp, err := w.m.Call(ctx, &host.Request{
		Endpoint:    op,
		ContentType: "application/json",
		Header:      map[string]string{"Registry-Config": w.config},
		Body:        body,
	})
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			if ae.Code == 404 {
				// The plugin's detail already says "service not found: NAME".
				return fmt.Errorf("%w: %s", abi.ErrServiceNotFound, strings.TrimPrefix(ae.Detail, abi.ErrServiceNotFound.Error()+": "))
			}
			return errors.New(ae.Detail)
		}
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rsp.Body, out); err != nil {
		return fmt.Errorf("registry plugin %s: malformed reply: %w", op, err)
	}
	return nil
}

func (w *wasm) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	return w.call(ctx, w.opTimeout, "register", abi.RegistryRecord{Service: svc, TTLMS: ttl.Milliseconds()}, nil)
}

func (w *wasm) Deregister(ctx context.Context, svc *abi.Service) error {
	return w.call(ctx, w.opTimeout, "deregister", abi.RegistryRecord{Service: svc}, nil)
}

func (w *wasm) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	var rep abi.RegistryServices
	if err := w.call(ctx, w.opTimeout, "get", abi.RegistryName{Name: name}, &rep); err != nil {
		return nil, err
	}
	if len(rep.Services) == 0 {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	return rep.Services, nil
}

func (w *wasm) ListServices(ctx context.Context) ([]string, error) {
	var rep abi.RegistryNames
	if err := w.call(ctx, w.opTimeout, "list", struct{}{}, &rep); err != nil {
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
	var rep abi.RegistryServices
	if err := w.call(ctx, w.watchTimeout, "watch", abi.RegistryWatch{Name: name, Index: index}, &rep); err != nil {
		return nil, index, err
	}
	return rep.Services, rep.Index, nil
}

// timed bounds a native backend's operations whose context has no deadline, as the Wasm
// backend does.
type timed struct {
	backend
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
	return t.backend.Register(ctx, svc, ttl)
}

func (t timed) Deregister(ctx context.Context, svc *abi.Service) error {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.backend.Deregister(ctx, svc)
}

func (t timed) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.backend.GetService(ctx, name)
}

func (t timed) ListServices(ctx context.Context) ([]string, error) {
	ctx, cancel := t.bound(ctx, t.op)
	defer cancel()
	return t.backend.ListServices(ctx)
}

func (t timed) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	ctx, cancel := t.bound(ctx, t.watch)
	defer cancel()
	return t.backend.Watch(ctx, name, index)
}
