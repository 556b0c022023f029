package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/server"
	"github.com/microhost/microhost/internal/wasmcomponent"
	"github.com/microhost/microhost/internal/watch"
)

// slot is one configured module the service can swap live: a [[handler]] or a
// [[subscriber]], its module file and the module serving it now.
type slot struct {
	kind component.Kind // KindHandler for a [[handler]], KindSubscriber for a [[subscriber]]
	path string
	// topic is a subscriber's topic, which a new module must still take.
	topic string
	opts  host.ModuleOptions
	live  *wasmcomponent.Live
}

// loadSlot loads the module at path for a slot of the given kind and wraps it so that it
// can be swapped live.
func (s *Service) loadSlot(ctx context.Context, kind component.Kind, path string, opts host.ModuleOptions) (*slot, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load module: %w", err)
	}
	m, err := s.loader().LoadBytes(ctx, path, wasm, opts)
	if err != nil {
		return nil, err
	}
	sl := &slot{kind: kind, path: path, opts: opts, live: wasmcomponent.NewLive(m, wasmcomponent.Digest(wasm))}
	s.slots = append(s.slots, sl)
	return sl, nil
}

// check reports how a module that would replace sl's fails it: another kind, another
// name, a subscriber that no longer takes its topic.
func (sl *slot) check(d abi.Descriptor) error {
	cur := sl.live.Descriptor()
	switch {
	case sl.kind == component.KindSubscriber && d.Kind != abi.KindSubscriber && d.Kind != abi.KindHandler:
		return fmt.Errorf("it is a %s module (%q), not a subscriber", d.Kind, d.Name)
	case sl.kind == component.KindHandler && d.Kind != abi.KindHandler:
		return fmt.Errorf("it is a %s module (%q), not a handler", d.Kind, d.Name)
	case d.Name != cur.Name:
		return fmt.Errorf("it declares itself the %s %q, not %q", d.Kind, d.Name, cur.Name)
	case sl.topic != "" && !slices.ContainsFunc(d.Endpoints, func(e abi.Endpoint) bool { return e.Name == sl.topic }):
		return fmt.Errorf("it does not subscribe to topic %q (it declares %s)", sl.topic, endpointNames(d))
	}
	return nil
}

// Watch swaps modules live until ctx is done: it watches the file of every [[handler]] and
// [[subscriber]] module and of every component that runs as a module, and once a new or
// replaced file is complete, swaps it in (see Reload). A deleted file leaves the running
// module serving.
func (s *Service) Watch(ctx context.Context) error {
	var paths []string
	for _, sl := range s.slots {
		paths = append(paths, sl.path)
	}
	for _, m := range s.components {
		paths = append(paths, m.Path())
	}
	for _, a := range s.autos {
		paths = append(paths, a.Spec.Path)
	}
	w, err := watch.New(paths, watch.Options{Logger: s.logger})
	if err != nil {
		return err
	}
	defer w.Close()
	// From here on a change is noticed (the folders are watched); the line says so, and
	// when, to an operator and to a test.
	s.logger.Info("watching module files", "files", len(paths))
	go w.Run(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ch := <-w.C():
			_ = s.reload(ctx, ch.Path)
		}
	}
}

// Reload looks at every module file once, as SIGHUP and `microhost reload` ask, and swaps
// in each that changed. It returns the refusals, joined; each was logged.
func (s *Service) Reload(ctx context.Context) error {
	return s.reload(ctx, "")
}

// reload swaps in the module files that changed: the one at path, or all when path is "".
func (s *Service) reload(ctx context.Context, path string) error {
	var errs []error
	deleted := func(kind component.Kind, p, digest string) bool {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("module file deleted; the running module keeps serving", "kind", kind, "file", p, "digest", short(digest))
			return true
		}
		return false
	}
	for _, sl := range s.slots {
		if (path == "" || sl.path == path) && !deleted(sl.kind, sl.path, sl.live.Digest()) {
			errs = append(errs, s.swap(ctx, sl))
		}
	}
	autos := map[*wasmcomponent.Module]bool{}
	for _, a := range s.autos {
		if m := a.Module(); m != nil {
			autos[m] = true
		}
		if (path == "" || a.Spec.Path == path) && !deleted(a.Spec.Kind, a.Spec.Path, "") {
			errs = append(errs, s.switchAuto(ctx, a))
		}
	}
	for _, m := range s.components {
		if autos[m] {
			continue // a component in mode auto: switchAuto looked at it
		}
		if (path == "" || m.Path() == path) && !deleted(m.Kind(), m.Path(), m.Digest()) {
			errs = append(errs, s.swapComponent(ctx, m))
		}
	}
	return errors.Join(errs...)
}

// addAuto records a component in mode auto, to be switched live as its file changes.
func (s *Service) addAuto(a wasmcomponent.Auto) { s.autos = append(s.autos, a) }

// switchAuto applies the rule of mode auto to a component's file as it is now: the stock
// build (or no file) runs the native twin, any other build runs as a module. So a new build
// dropped over the stock file takes over from the twin, a newer build replaces the module,
// and the stock build put back hands the work back to the twin — each live, checked first
// as at start-up, with calls in flight finishing where they started.
func (s *Service) switchAuto(ctx context.Context, a wasmcomponent.Auto) error {
	ch, err := s.catalogue.Choose(a.Spec.Kind, a.Spec.Name, component.ModeAuto, a.Spec.Path)
	if err != nil {
		s.logger.Error("swap refused; the running component keeps serving", "kind", a.Spec.Kind, "file", a.Spec.Path, "reason", err)
		return err
	}
	cur := a.Module()
	switch {
	case ch.Mode == component.ModeNative && cur == nil:
		return nil // the twin serves, and the file is (still) the stock build
	case ch.Mode == component.ModeNative:
		s.swapMu.Lock()
		start := time.Now()
		old := cur.Digest()
		a.UseNative()
		s.swapMu.Unlock()
		s.logger.Info("swapped", "kind", a.Spec.Kind, "name", a.Spec.Name, "file", a.Spec.Path,
			"old_digest", short(old), "new_digest", short(ch.Digest), "runs", component.ModeNative, "switch", time.Since(start))
		return nil
	case cur != nil:
		return s.swapComponent(ctx, cur)
	}
	// The twin serves and another build appeared: load it off the request path, check it
	// as at start-up and with the kind's conformance suite, warm it, then switch.
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	start := time.Now()
	m, err := s.prepareAuto(ctx, a)
	if err != nil {
		s.logger.Error("swap refused; the native twin keeps serving", "kind", a.Spec.Kind, "file", a.Spec.Path, "reason", err)
		return err
	}
	compiled := time.Since(start)
	start = time.Now()
	if err := a.UseModule(m); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		s.logger.Error("swap refused; the native twin keeps serving", "kind", a.Spec.Kind, "file", a.Spec.Path, "reason", err)
		return err
	}
	s.logger.Info("swapped", "kind", a.Spec.Kind, "name", a.Spec.Name, "file", a.Spec.Path,
		"old_digest", "native", "new_digest", short(m.Digest()), "runs", component.ModeWasm, "compile", compiled, "switch", time.Since(start))
	return nil
}

// prepareAuto loads, checks and warms the module of a component in mode auto: the checks of
// start-up, then the kind's conformance suite on the bytes loaded.
func (s *Service) prepareAuto(ctx context.Context, a wasmcomponent.Auto) (*wasmcomponent.Module, error) {
	wasm, err := os.ReadFile(a.Spec.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: load module: %w", a.Spec.Kind, err)
	}
	m, err := wasmcomponent.LoadBytes(ctx, s.rt, a.Spec, wasm)
	if err != nil {
		return nil, err
	}
	err = s.conform(ctx, a.Spec.Path, wasm, m.Descriptor())
	if err == nil {
		err = m.Warm(ctx, runtime.GOMAXPROCS(0))
	}
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return m, nil
}

// conform runs the conformance suite of d's kind on wasm, the bytes of the module at path,
// which declared d when loaded. A registry module's suite runs against a scratch folder of
// its own, except Consul's, whose suite would register test services with the service's own
// agent: it keeps the start-up checks alone.
func (s *Service) conform(ctx context.Context, path string, wasm []byte, d abi.Descriptor) error {
	if component.Kind(d.Kind) == component.KindRegistry && d.Name == "consul-registry" {
		return nil
	}
	r, err := conformance.Loaded(ctx, s.rt, path, wasm, d)
	if err != nil {
		return err
	}
	return r.Err()
}

// swapComponent swaps a component's module through the adapter (wasmcomponent.Module.Reload)
// after the kind's conformance suite passed on the new file, when the kind has a suite that
// needs nothing outside the process.
func (s *Service) swapComponent(ctx context.Context, m *wasmcomponent.Module) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	conform := func(d abi.Descriptor, wasm []byte) error { return s.conform(ctx, m.Path(), wasm, d) }
	sw, err := m.Reload(ctx, s.rt, conform)
	if err != nil {
		s.logger.Error("swap refused; the running module keeps serving", "kind", m.Kind(), "file", m.Path(), "reason", err)
		s.tel.Swapped(string(m.Kind()), m.Name(), m.Digest(), "", err)
		return err
	}
	if sw != nil {
		s.tel.Swapped(string(m.Kind()), m.Name(), sw.Old, sw.New, nil)
		s.logger.Info("swapped", "kind", m.Kind(), "name", m.Name(), "file", m.Path(),
			"old_digest", short(sw.Old), "new_digest", short(sw.New), "compile", sw.Compile, "switch", sw.Switch)
	}
	return nil
}

// swap replaces sl's module with the one in its file, if the file changed: the new module is
// compiled, checked and warmed off the request path, then made current at once; calls in
// flight finish on the old module, closed once they have. A module whose endpoints changed
// is re-registered with the new list. A file that fails is refused with one log line, and
// the running module keeps serving.
func (s *Service) swap(ctx context.Context, sl *slot) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	old := sl.live.Digest()
	if wasm, err := os.ReadFile(sl.path); err == nil && wasmcomponent.Digest(wasm) == old {
		return nil
	}
	// A subscriber slot also takes a handler module, so the check is the slot's own.
	c, err := wasmcomponent.Prepare(ctx, s.rt, wasmcomponent.Spec{Kind: sl.kind, Path: sl.path, Options: sl.opts}, max(sl.opts.PoolSize, runtime.GOMAXPROCS(0)),
		func(d abi.Descriptor, _ []byte) error { return sl.check(d) })
	if err != nil {
		s.logger.Error("swap refused; the running module keeps serving", "kind", sl.kind, "file", sl.path, "reason", err)
		s.tel.Swapped(string(sl.kind), sl.live.Descriptor().Name, old, "", err)
		return err
	}
	if c.Digest == old {
		_ = c.Module.Close(context.WithoutCancel(ctx))
		return nil
	}
	before := sl.live.Descriptor().Endpoints
	start := time.Now()
	sl.live.Swap(c)
	switched := time.Since(start)
	d := c.Module.Descriptor()
	s.tel.Swapped(string(sl.kind), d.Name, old, c.Digest, nil)
	s.logger.Info("swapped", "kind", sl.kind, "name", d.Name, "file", sl.path,
		"old_digest", short(old), "new_digest", short(c.Digest), "compile", c.Compile, "switch", switched)
	if sl.kind == component.KindHandler && !reflect.DeepEqual(before, d.Endpoints) {
		s.reroute(ctx)
	}
	return nil
}

// reroute routes requests by the handlers' current endpoints and re-registers the service
// with them.
func (s *Service) reroute(ctx context.Context) {
	if s.server == nil {
		return
	}
	var hs []server.Handler
	for _, sl := range s.slots {
		if sl.kind == component.KindHandler {
			hs = append(hs, sl.live)
		}
	}
	if err := s.server.SetHandlers(hs...); err != nil {
		s.logger.Error("new endpoints not routed", "err", err)
		return
	}
	if s.record == nil {
		return
	}
	s.recordMu.Lock()
	rec := *s.record
	rec.Endpoints = s.server.Endpoints()
	s.record = &rec
	s.recordMu.Unlock()
	if err := s.reg.Register(ctx, &rec, s.cfg.Registry.TTL.D()); err != nil {
		s.logger.Warn("re-registering with the new endpoints failed; retrying every interval", "err", err)
		return
	}
	s.logger.Info("re-registered with new endpoints", "service", rec.Name, "endpoints", len(rec.Endpoints))
}

// tracker loads modules through the service's runtime and keeps every component module
// loaded, of whatever kind, so that the service can swap it live and close it.
type tracker struct {
	progressLoader
	s *Service
}

// Track records a component module the service loaded, so that it is watched and swapped.
func (t tracker) Track(m *wasmcomponent.Module) { t.s.components = append(t.s.components, m) }

// loader is what the service loads every module through: each load logged (progress.go),
// each component module tracked for live swap.
func (s *Service) loader() tracker {
	return tracker{progressLoader: progressLoader{rt: s.rt, logger: s.logger}, s: s}
}

// short is a digest's first 12 hex digits, enough to tell builds apart in a log.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
