package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/telemetry"
	"github.com/microhost/microhost/ports"
)

// The admin listener ([admin]) serves the operator: /livez, /readyz, /metrics,
// /debug/pprof/, the admin page at / and its data at /api/status.

// provisionTelemetry builds the service's metrics and tracer, when the admin listener or
// tracing is on; otherwise the service observes nothing.
func (s *Service) provisionTelemetry(ctx context.Context) error {
	cfg := s.cfg
	if cfg.Admin.Address == config.AdminOff && (cfg.Tracing.Exporter == "" || cfg.Tracing.Exporter == telemetry.ExporterOff) {
		return nil
	}
	if s.dryRun {
		return nil
	}
	t, err := telemetry.New(ctx, telemetry.Options{
		Service: cfg.Service.Name, Version: cfg.Service.Version, Metrics: cfg.Admin.MetricsOn(),
		Exporter: cfg.Tracing.Exporter, Endpoint: cfg.Tracing.Endpoint, Logger: s.logger,
		Synchronous: s.syncSpans,
	})
	if err != nil {
		return cfg.KeyError("tracing", err)
	}
	s.tel = t
	return nil
}

// listenAdmin binds the admin listener, unless it is off.
func (s *Service) listenAdmin(ctx context.Context) error {
	if s.cfg.Admin.Address == config.AdminOff {
		return nil
	}
	ln, err := ports.Listen(ctx, "tcp", s.cfg.Admin.Address)
	if err != nil {
		return s.cfg.KeyError("admin.address", fmt.Errorf("listen: %w", err))
	}
	s.adminLn = ln
	s.listNatives()
	if b := s.pubsub.broker; b != nil {
		s.tel.SetBroker(func() telemetry.BrokerCounts {
			st := b.Stats()
			return telemetry.BrokerCounts{Published: st.Published, Delivered: st.Delivered, Retried: st.Retries, Dropped: st.Dropped}
		})
	}
	return nil
}

// listNatives lists the components served by their native twins, for the admin page.
func (s *Service) listNatives() {
	wasm := map[string]bool{}
	for _, m := range s.components {
		wasm[m.Path()] = true
	}
	add := func(kind component.Kind, c config.Component) {
		if c.Module != "" && !wasm[c.Path] {
			s.natives = append(s.natives, s.tel.Module(telemetry.ModuleInfo{Kind: string(kind), Name: c.Module, Native: true}))
		}
	}
	if s.ownedRegistry != nil {
		add(component.KindRegistry, s.cfg.Registry.Component)
	}
	add(component.KindSelector, s.cfg.Selector.Component)
	add(component.KindTransport, s.cfg.Transport.Component)
	if s.pubsub.broker != nil {
		add(component.KindBroker, s.cfg.Broker.Component)
	}
	for _, name := range s.cfg.Codec.Modules {
		add(component.KindCodec, config.Component{Module: name, Path: s.cfg.CodecPath(name)})
	}
}

// AdminAddr returns the address of the admin listener, or "" when it is off.
func (s *Service) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Telemetry returns the service's metrics and tracer; nil when the admin listener and
// tracing are both off.
func (s *Service) Telemetry() *telemetry.Telemetry { return s.tel }

// Ready reports what /readyz does: the service's modules are loaded, it is registered, and
// it is not draining.
func (s *Service) Ready() bool { return s.registered.Load() && !s.draining.Load() }

// serveAdmin starts serving the admin listener; stop shuts it down.
func (s *Service) serveAdmin() (stop func(ctx context.Context)) {
	if s.adminLn == nil {
		return func(context.Context) {}
	}
	srv := &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(s.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.logger.Warn("admin listener stopped", "err", err)
		}
	}()
	s.logger.Info("admin listening", "address", s.AdminAddr(), "metrics", s.tel.Metrics(), "tracing", s.cfg.Tracing.Exporter)
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}
}

func (s *Service) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case s.draining.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintln(w, "not ready: draining")
		case !s.registered.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintln(w, "not ready: not registered")
		default:
			_, _ = fmt.Fprintln(w, "ok")
		}
	})
	if s.tel.Metrics() {
		mux.Handle("GET /metrics", s.tel.Handler())
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /api/status", s.serveStatus)
	mux.Handle("GET /", pageHandler())
	return mux
}

// Status is what /api/status answers, and the admin page shows.
type Status struct {
	Service   string            `json:"service"`
	Version   string            `json:"version"`
	Ready     bool              `json:"ready"`
	Draining  bool              `json:"draining"`
	Address   string            `json:"address"`
	Nodes     []StatusNode      `json:"nodes"`
	Endpoints []string          `json:"endpoints"`
	Modules   []StatusModule    `json:"modules"`
	Events    []telemetry.Event `json:"events"`
	Services  []StatusService   `json:"services"`
	Tracing   string            `json:"tracing"`
	Metrics   bool              `json:"metrics"`
	Time      time.Time         `json:"time"`
}

// StatusNode is one node of the service.
type StatusNode struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// StatusModule is one module of the service.
type StatusModule struct {
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Digest    string   `json:"digest"`
	Native    bool     `json:"native"`
	Busy      int      `json:"busy"`
	Idle      int      `json:"idle"`
	Calls     uint64   `json:"calls"`
	Errors    uint64   `json:"errors"`
	Traps     uint64   `json:"traps"`
	Deadlines uint64   `json:"deadline_stops"`
	P50ms     *float64 `json:"p50_ms"`
	P99ms     *float64 `json:"p99_ms"`
}

// StatusService is a service the registry knows.
type StatusService struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
	Nodes    int      `json:"nodes"`
}

// maxListedServices bounds the services the admin page lists.
const maxListedServices = 200

func (s *Service) status(ctx context.Context) Status {
	rec := s.Record()
	st := Status{Service: s.cfg.Service.Name, Version: s.cfg.Service.Version, Ready: s.Ready(), Draining: s.draining.Load(),
		Address: s.Addr(), Tracing: s.cfg.Tracing.Exporter, Metrics: s.tel.Metrics(), Time: time.Now().UTC(),
		Nodes: []StatusNode{}, Endpoints: []string{}, Modules: []StatusModule{}, Events: s.tel.Events(), Services: []StatusService{}}
	if st.Events == nil {
		st.Events = []telemetry.Event{}
	}
	for _, n := range rec.Nodes {
		st.Nodes = append(st.Nodes, StatusNode{ID: n.ID, Address: n.Address})
	}
	for _, e := range rec.Endpoints {
		st.Endpoints = append(st.Endpoints, e.Name)
	}
	ms := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		v *= 1000
		return &v
	}
	for _, m := range s.tel.Modules() {
		st.Modules = append(st.Modules, StatusModule{Kind: m.Kind, Name: m.Name, Version: m.Version, Digest: m.Digest, Native: m.Native,
			Busy: m.Busy, Idle: m.Idle, Calls: m.Calls, Errors: m.Errors, Traps: m.Traps, Deadlines: m.Deadlines, P50ms: ms(m.P50), P99ms: ms(m.P99)})
	}
	st.Services = s.knownServices(ctx)
	return st
}

// knownServices lists the services the registry knows, with their versions and nodes.
func (s *Service) knownServices(ctx context.Context) []StatusService {
	out := []StatusService{}
	lister, ok := s.reg.(interface {
		ListServices(ctx context.Context) ([]string, error)
	})
	lookup := s.lookup()
	if !ok || lookup == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	names, err := lister.ListServices(ctx)
	if err != nil {
		return out
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names[:min(len(names), maxListedServices)] {
		svcs, err := lookup.GetService(ctx, name)
		if err != nil {
			continue
		}
		ss := StatusService{Name: name, Versions: []string{}}
		for _, r := range svcs {
			ss.Versions = append(ss.Versions, r.Version)
			ss.Nodes += len(r.Nodes)
		}
		out = append(out, ss)
	}
	return out
}

func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.status(r.Context()))
}
