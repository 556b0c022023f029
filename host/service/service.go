// Package service combines the parts into a running service: it loads the handler modules,
// listens on the configured address (a port range allowed), registers the service, keeps the
// registration fresh and deregisters before it stops.
package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/host"
	hostregistry "github.com/microhost/microhost/internal/registry"
	"github.com/microhost/microhost/internal/registrycache"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/server"
	"github.com/microhost/microhost/internal/telemetry"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/internal/wasmcomponent"
	"github.com/microhost/microhost/ports"
)

// Registrar is what a service needs of its registry.
type Registrar interface {
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	Deregister(ctx context.Context, svc *abi.Service) error
}

// Deps are what a service is built from besides its config.
type Deps struct {
	// Registry registers the service; when it can look services up, the service's calls
	// and its broker find other services through it. Nil makes the service open the
	// registry its config names ([registry]) through the catalogue, as it does every other
	// component, and close it with the service.
	Registry Registrar
	// Catalogue holds the native twins of the components; nil means none, so every
	// component must come as a module.
	Catalogue *component.Catalogue
	// Logger receives the service's log; nil discards it.
	Logger *slog.Logger
	// Getenv reads the registry's own environment (Consul's CONSUL_HTTP_ADDR and the like)
	// when the service opens its registry; nil means os.Getenv.
	Getenv func(string) string
	// SynchronousSpans exports each span as it ends rather than in batches, so that a test
	// sees a trace as soon as the request is answered.
	SynchronousSpans bool
	// Compilations, when set, holds the compiled modules of the service's runtime, shared
	// with the other services and runtimes given it, and keeps the compilations no module
	// uses as it was told to: a process that starts many services over the same modules, as
	// a test binary does, compiles each once. Nil gives the service's runtime its own, which
	// releases a compilation with the last module using it.
	Compilations *host.Compilations
}

// Service is one running microhost service.
type Service struct {
	cfg       *config.Config
	catalogue *component.Catalogue
	logger    *slog.Logger
	reg       Registrar
	rt        *host.Runtime
	modules   []*host.Module
	pubsub    pubsub
	codecs    *codec.Registry
	ln        net.Listener
	transport *transport.Server
	// newFramer is the configured transport's framer, which the client frames with too.
	newFramer func() transport.Framer
	record    *abi.Service
	// lookups is the registry cache the service's calls find other services through; nil
	// when the registrar cannot watch.
	lookups *registrycache.Cache
	// client makes the handlers' calls to other services (the call host function).
	client *client.Client
	// selector picks the node each of the client's calls goes to ([selector]).
	selector *selector.Selector
	// ownedRegistry is the registry the service opened itself (Deps.Registry was nil); it
	// is closed with the service.
	ownedRegistry *hostregistry.Registry
	getenv        func(string) string

	// dryRun provisions without binding a listener (Validate); a failed step is recorded
	// in problems and provisioning goes on, so that every problem is reported at once.
	dryRun   bool
	problems []error

	// server is the pipeline, rerouted when a live swap changes a handler's endpoints.
	server *server.Server
	// slots are the handler and subscriber modules, each swappable live (swap.go).
	slots []*slot
	// components are the component modules of every kind, swappable live too; they are
	// closed with the service.
	components []*wasmcomponent.Module
	// autos are the components in mode auto, each switched live between its native twin
	// and its module as its file changes (swap.go); they are closed with the service.
	autos []wasmcomponent.Auto
	// swapMu serializes swaps; recordMu guards record, replaced when endpoints change.
	swapMu   sync.Mutex
	recordMu sync.Mutex

	// tel is the service's metrics and tracer (admin.go), nil when the admin listener and
	// tracing are both off; adminLn is the admin listener, nil when off; natives are the
	// components served by native twins, listed on the admin page.
	tel     *telemetry.Telemetry
	adminLn net.Listener
	natives []*telemetry.Module
	// syncSpans exports each span as it ends (Deps.SynchronousSpans).
	syncSpans bool
	// compilations holds the runtime's compiled modules when shared (Deps.Compilations).
	compilations *host.Compilations
	// registered is set once the registry took the service; draining once Run began to
	// stop. Together they are /readyz.
	registered atomic.Bool
	draining   atomic.Bool
}

// New provisions a service from cfg: it starts the runtime, loads every handler module and
// binds the listener. What it started is undone, in reverse, if a later step fails.
func New(ctx context.Context, cfg *config.Config, deps Deps) (*Service, error) {
	logger, reg := deps.Logger, deps.Registry
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, catalogue: deps.Catalogue, logger: logger, reg: reg, getenv: deps.Getenv, syncSpans: deps.SynchronousSpans, compilations: deps.Compilations}
	if err := s.provision(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// Validate provisions the service cfg describes as New does — its registry, every component
// and every handler and subscriber module, each chosen, loaded and checked — without binding
// a listener or registering anything, then releases it all. It returns nil, or every problem
// found, joined.
func Validate(ctx context.Context, cfg *config.Config, deps Deps) error {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, catalogue: deps.Catalogue, logger: logger, reg: deps.Registry, getenv: deps.Getenv, dryRun: true, compilations: deps.Compilations}
	err := s.provision(ctx)
	_ = s.Close(context.WithoutCancel(ctx))
	return errors.Join(append(s.problems, err)...)
}

// keep is how provisioning treats a step's error: New stops at the first, Validate records
// it and goes on.
func (s *Service) keep(err error) error {
	if err != nil && s.dryRun {
		s.problems = append(s.problems, err)
		return nil
	}
	return err
}

// provisionRegistry opens the registry the config names, unless the service was given one,
// and the cache through which the service's calls look services up.
func (s *Service) provisionRegistry(ctx context.Context) error {
	if s.reg == nil {
		getenv := s.getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		o, err := hostregistry.FromConfig(s.cfg, getenv)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		r, err := hostregistry.Open(ctx, o, s.catalogue, s.loader(), s.logger)
		if err != nil {
			return err
		}
		s.ownedRegistry, s.reg = r, r
		if a := r.Auto(); a != nil {
			s.addAuto(*a)
		}
	}
	if src, ok := s.reg.(registrycache.Source); ok && !s.dryRun {
		s.lookups = registrycache.New(src, registrycache.Options{Logger: s.logger})
	}
	return nil
}

func (s *Service) provision(ctx context.Context) error {
	cfg, logger := s.cfg, s.logger
	if err := s.provisionTelemetry(ctx); err != nil {
		return err
	}
	var err error
	s.rt, err = host.NewRuntime(ctx, host.Options{CacheDir: cfg.Plugins.CacheDir, CacheMaxBytes: cfg.Plugins.CacheMaxBytes, Logger: logger, StartupTimeout: time.Duration(cfg.Plugins.StartupTimeout), Telemetry: s.tel, Compilations: s.compilations})
	if err != nil {
		return err
	}
	s.prefetchDigests()
	s.precompile(ctx)
	defer s.rt.DropPrecompiled(context.WithoutCancel(ctx))
	if err := s.keep(s.provisionRegistry(ctx)); err != nil {
		return err
	}
	if err := s.keep(s.provisionClient(ctx)); err != nil {
		return err
	}
	if err := s.keep(s.provisionBroker(ctx)); err != nil {
		return err
	}
	handlers, err := s.provisionHandlers(ctx)
	if err != nil {
		return err
	}
	codecs, err := codec.Load(ctx, s.loader(), codec.Setup{
		Modules: cfg.Codec.Modules, Dir: cfg.Plugins.Dir, Mode: cfg.Codec.Mode, Types: cfg.Codec.Types,
		PoolSize: cfg.Codec.PoolSize, Catalogue: s.catalogue, Logger: logger,
	})
	if err != nil {
		err = s.codecProblem(err)
	}
	if err := s.keep(err); err != nil {
		return err
	}
	if codecs != nil {
		s.codecs = codecs.Registry
		for _, a := range codecs.Autos {
			s.addAuto(a)
		}
		for _, ct := range codecs.Registry.ContentTypes() {
			logger.Debug("codec", "content_type", ct, "mode", codecs.Modes[ct])
		}
	} else {
		s.codecs = codec.NewRegistry()
	}
	srv, err := server.New(server.Options{
		Name:         cfg.Service.Name,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Timeout:      cfg.Server.Timeout.D(),
		Logger:       logger,
		Codecs:       s.codecs,
		Telemetry:    s.tel,
	}, handlers...)
	if err := s.keep(err); err != nil {
		return err
	}
	s.server = srv
	if s.dryRun {
		if srv != nil {
			s.problems = append(s.problems, s.provisionTransport(ctx, srv))
		}
		return nil
	}
	s.ln, err = ports.Listen(ctx, "tcp", cfg.Server.Address)
	if err != nil {
		return s.listenProblem(err)
	}
	advertise, err := ports.Advertise(s.ln.Addr(), cfg.Server.Advertise, nil)
	if err != nil {
		return fmt.Errorf("server: advertise address: %w", err)
	}
	if err := s.provisionTransport(ctx, srv); err != nil {
		return err
	}
	if err := s.listenAdmin(ctx); err != nil {
		return err
	}
	s.record = &abi.Service{
		Name:      cfg.Service.Name,
		Version:   cfg.Service.Version,
		Metadata:  cfg.Service.Metadata,
		Endpoints: srv.Endpoints(),
		Nodes: []abi.Node{{
			ID:       cfg.Service.Name + "-" + newUUID(),
			Address:  advertise,
			Metadata: nodeMetadata(cfg),
		}},
	}
	return nil
}

// precompile starts compiling, in the background, the modules provisioning will load as
// Wasm (host.Runtime.Precompile), so that their loads overlap instead of running one after
// another: every handler and subscriber, and the components in mode wasm. A component in mode
// auto is left to its own load, since telling whether it runs as Wasm means reading its whole
// file for its digest, and the registry, which is loaded first, gains nothing. One module
// alone is left to its load too: there is nothing to overlap it with, and compiling it on
// another goroutine while provisioning goes on only raised the peak memory (by about 10 MB).
func (s *Service) precompile(ctx context.Context) {
	type job struct {
		path string
		opts host.ModuleOptions
	}
	var jobs []job
	cfg := s.cfg
	for _, h := range cfg.Handlers {
		jobs = append(jobs, job{h.Path, guestLimits(h.Interrupt, h.MemoryLimitMB)})
	}
	for _, sc := range cfg.Subscribers {
		jobs = append(jobs, job{sc.Path, guestLimits(sc.Interrupt, sc.MemoryLimitMB)})
	}
	// Components run without deadline interrupts and with the default memory limit.
	for _, path := range componentFiles(cfg, component.ModeWasm, cfg.Selector.Component, cfg.Broker.Component, cfg.Transport.Component) {
		jobs = append(jobs, job{path, host.ModuleOptions{}})
	}
	if len(jobs) < 2 {
		return
	}
	for _, j := range jobs {
		s.rt.Precompile(ctx, j.path, j.opts)
	}
}

// prefetchDigests starts hashing the module files of the components in mode auto, whose
// digests decide whether their native twins run: on a machine with more than one processor
// that overlaps the handlers' loading instead of following it.
func (s *Service) prefetchDigests() {
	cfg := s.cfg
	s.catalogue.Prefetch(componentFiles(cfg, component.ModeAuto, cfg.Registry.Component, cfg.Selector.Component, cfg.Broker.Component, cfg.Transport.Component)...)
}

// componentFiles lists the module files of the components among comps, and of the codecs,
// that are configured in mode (a component whose mode is empty is in mode auto).
func componentFiles(cfg *config.Config, mode component.Mode, comps ...config.Component) []string {
	in := func(m string) bool { return component.Mode(m) == mode || (m == "" && mode == component.ModeAuto) }
	var paths []string
	for _, c := range comps {
		if in(c.Mode) && c.Path != "" {
			paths = append(paths, c.Path)
		}
	}
	if in(cfg.Codec.Mode) {
		for _, name := range cfg.Codec.Modules {
			paths = append(paths, cfg.CodecPath(name))
		}
	}
	return paths
}

// guestLimits are the settings of a handler or subscriber module its compiled code depends
// on, as its load and its precompilation both take them: deadline interrupts (on unless the
// config turns them off) and the memory cap.
func guestLimits(interrupt *bool, memoryLimitMB int) host.ModuleOptions {
	return host.ModuleOptions{InterruptOnDeadline: interrupt == nil || *interrupt, MemoryLimitPages: uint32(memoryLimitMB) * 16}
}

// provisionHandlers loads every [[handler]] module and checks that it is a handler.
func (s *Service) provisionHandlers(ctx context.Context) ([]server.Handler, error) {
	handlers := make([]server.Handler, 0, len(s.cfg.Handlers))
	for i, h := range s.cfg.Handlers {
		opts := guestLimits(h.Interrupt, h.MemoryLimitMB)
		opts.PoolSize = h.PoolSize
		opts.Publisher, opts.Services = s.publisher(), s.client
		opts.LogBytesPerCall, opts.LogBytesPerSecond = s.cfg.Plugins.LogBytesPerCall, s.cfg.Plugins.LogBytesPerSecond
		opts.MaxReplyHeaders, opts.MaxReplyHeaderBytes = s.cfg.Server.MaxReplyHeaders, s.cfg.Server.MaxReplyHeaderBytes
		opts.Grants = host.Grants{
			Calls:              h.Calls,
			Publishes:          h.Publishes,
			ForwardMetadata:    h.ForwardMetadata,
			CredentialMetadata: s.cfg.Client.CredentialMetadata,
		}
		sl, err := s.loadSlot(ctx, component.KindHandler, h.Path, opts)
		if err != nil {
			if err := s.keep(s.moduleProblem(handlerKey("handler", i, h.Module), h.Path, err)); err != nil {
				return nil, err
			}
			continue
		}
		if kind := sl.live.Descriptor().Kind; kind != abi.KindHandler {
			if err := s.keep(s.cfg.KeyError(handlerKey("handler", i, h.Module), fmt.Errorf("load module %s: it is a %s module, not a handler", h.Path, kind))); err != nil {
				return nil, err
			}
			continue
		}
		handlers = append(handlers, sl.live)
	}
	return handlers, nil
}

// nodeMetadata is the metadata of the service's node: the service's own metadata, as Go
// Micro's server puts its metadata on its node so that callers can select nodes by label,
// under the keys that describe how to reach the node, which win.
func nodeMetadata(cfg *config.Config) map[string]string {
	md := make(map[string]string, len(cfg.Service.Metadata)+4)
	for k, v := range cfg.Service.Metadata {
		md[k] = v
	}
	md["transport"] = "http"
	md["protocol"] = "mucp"
	md["registry"] = cfg.Registry.Name
	md["server"] = "microhost"
	return md
}

// Addr returns the address the service listens on.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Codecs returns the codecs the service serves, by content type.
func (s *Service) Codecs() *codec.Registry { return s.codecs }

// Record returns the registration the service makes; a live swap that changes a handler's
// endpoints replaces it.
func (s *Service) Record() *abi.Service {
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	return s.record
}

// Lookups returns the registry cache through which the service finds other services, or nil
// when its registry cannot be watched. The cache is closed with the service.
func (s *Service) Lookups() *registrycache.Cache { return s.lookups }

// Client returns the client through which the service's handlers call other services.
func (s *Service) Client() *client.Client { return s.client }

// lookup is what the service's client finds services through: the registry cache, else the
// registry itself when it can look services up, else nothing.
func (s *Service) lookup() client.Lookup {
	if s.lookups != nil {
		return s.lookups
	}
	if l, ok := s.reg.(client.Lookup); ok {
		return l
	}
	return nil
}

// Run serves until ctx is done: it registers the service, re-registers it every interval,
// and on the way out deregisters it before closing the listener, then waits for requests in
// flight to finish.
func (s *Service) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.transport.Serve(s.ln) }()
	s.logger.Info("listening", "service", s.cfg.Service.Name, "address", s.Addr(), "node", s.record.Nodes[0].ID)
	stopAdmin := s.serveAdmin()
	// The admin listener answers /livez through the drain, and stops last.
	defer stopAdmin(context.WithoutCancel(ctx))

	ttl, interval := s.cfg.Registry.TTL.D(), s.cfg.Registry.Interval.D()
	healthy := s.register(ctx, ttl, true)
	s.subscribe(ctx)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-serveErr:
			break loop
		case <-ticker.C:
			healthy = s.register(ctx, ttl, healthy)
		}
	}
	s.draining.Store(true)
	stop := context.WithoutCancel(ctx)
	if berr := s.stopBroker(stop); berr != nil {
		s.logger.Warn("broker stop failed", "err", berr)
	}
	if derr := s.reg.Deregister(stop, s.Record()); derr != nil {
		s.logger.Warn("deregister failed", "err", derr)
	} else {
		s.logger.Info("deregistered", "service", s.cfg.Service.Name, "node", s.record.Nodes[0].ID)
	}
	drain := s.cfg.Server.DrainTimeout.D()
	if drain <= 0 {
		drain = time.Duration(config.DefaultDrainTimeout)
	}
	s.logger.Info("draining", "in_flight", s.transport.InFlight(), "drain_timeout", drain)
	shutdownCtx, cancel := context.WithTimeout(stop, drain)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-drained:
				return
			case <-t.C:
				s.logger.Info("draining", "in_flight", s.transport.InFlight())
			}
		}
	}()
	serr := s.transport.Shutdown(shutdownCtx)
	close(drained)
	if serr != nil {
		s.logger.Warn("drain timed out; requests still in progress were cancelled", "drain_timeout", drain)
		if err == nil {
			err = fmt.Errorf("drain: requests still in progress after %v were cancelled: %w", drain, serr)
		}
	} else {
		s.logger.Info("drained")
	}
	if errors.Is(err, transport.ErrServerClosed) {
		err = nil
	}
	return err
}

// register registers the service and logs only changes of state: the first failure after
// success, and the recovery after failures, so an outage is not logged once per tick.
func (s *Service) register(ctx context.Context, ttl time.Duration, wasHealthy bool) bool {
	err := s.reg.Register(ctx, s.Record(), ttl)
	s.tel.Registered(err)
	if err == nil {
		s.registered.Store(true)
	}
	switch {
	case err != nil && wasHealthy:
		s.logger.Error("registration failed; retrying every interval", "err", err)
	case err == nil && !wasHealthy:
		s.logger.Info("registration restored")
	}
	return err == nil
}

// Close releases the modules and the runtime. Run must have returned. It is safe to call more
// than once.
func (s *Service) Close(ctx context.Context) error {
	s.swapMu.Lock() // a live swap finishes first, and none starts after
	defer s.swapMu.Unlock()
	errs := []error{s.stopBroker(ctx)}
	if s.adminLn != nil {
		if err := s.adminLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, m := range s.natives {
		m.Release()
	}
	s.natives = nil
	if s.lookups != nil {
		s.lookups.Close()
	}
	if s.client != nil {
		errs = append(errs, s.client.Close())
	}
	if s.selector != nil {
		errs = append(errs, s.selector.Close(ctx))
	}
	if s.ln != nil {
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, m := range s.modules {
		errs = append(errs, m.Close(ctx))
	}
	s.modules = nil
	for _, sl := range s.slots {
		sl.live.Close()
	}
	s.slots = nil
	if s.ownedRegistry != nil {
		errs = append(errs, s.ownedRegistry.Close(ctx))
		s.ownedRegistry = nil
	}
	for _, m := range s.components {
		errs = append(errs, m.Close(ctx))
	}
	s.components = nil
	for _, a := range s.autos {
		a.Close()
	}
	s.autos = nil
	if s.rt != nil {
		errs = append(errs, s.rt.Close(ctx))
		s.rt = nil
	}
	errs = append(errs, s.tel.Close(ctx))
	s.tel = nil
	return errors.Join(errs...)
}

// newUUID returns a random (version 4) UUID, as Go Micro uses in node ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
