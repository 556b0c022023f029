package service

import (
	"context"
	"fmt"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// provisionTransport builds the server side of the transport for h: the configured
// transport component — its native twin or its Wasm module, as catalogue.Choose decides
// from the mode — with the configured limits and timeouts. The service's client frames its
// requests with the same component (clientFramer).
func (s *Service) provisionTransport(ctx context.Context, h transport.Handler) error {
	cfg := s.cfg.Transport
	mode, err := component.ParseMode(cfg.Mode)
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	ch, err := s.catalogue.Choose(component.KindTransport, cfg.Module, mode, cfg.Path)
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	s.logger.Info("component", ch.LogArgs()...)
	spec := wasmcomponent.Spec{
		Kind:    component.KindTransport,
		Name:    cfg.Module,
		Path:    cfg.Path,
		Ops:     component.TransportOps,
		Options: host.ModuleOptions{PoolSize: cfg.PoolSize, StartupTrusted: s.catalogue.StockBuild(component.KindTransport, cfg.Module)},
	}
	var newFramer func() transport.Framer
	var m *wasmcomponent.Module
	switch ch.Mode {
	case component.ModeNative:
		twin, ok := ch.Twin.Native.(component.TransportTwin)
		if !ok || twin.NewFramer == nil {
			return fmt.Errorf("transport: the native twin %q is a %T, not a component.TransportTwin", ch.Name, ch.Twin.Native)
		}
		newFramer = twin.NewFramer
	default:
		if m, err = wasmcomponent.Load(ctx, s.loader(), spec); err != nil {
			return err
		}
		newFramer = wasmFramers(m)
	}
	twin, _ := s.catalogue.Twin(component.KindTransport, cfg.Module)
	if tt, ok := twin.Native.(component.TransportTwin); ok && tt.NewFramer != nil && mode == component.ModeAuto {
		sw := wasmcomponent.NewSwitch(newFramer, m)
		s.addAuto(wasmcomponent.NewAuto(spec, sw, tt.NewFramer, func(m *wasmcomponent.Module) (func() transport.Framer, error) { return wasmFramers(m), nil }))
		newFramer = func() transport.Framer { return &switchingFramer{sw: sw} }
	}
	s.newFramer = newFramer
	s.transport = transport.NewServer(h, transport.ServerOptions{
		NewFramer:    newFramer,
		Limits:       component.TransportLimits{MaxHeaderBytes: cfg.MaxHeaderBytes, MaxBodyBytes: int(s.cfg.Server.MaxBodyBytes)},
		ReadTimeout:  cfg.ReadTimeout.D(),
		IdleTimeout:  cfg.IdleTimeout.D(),
		WriteTimeout: cfg.WriteTimeout.D(),
		MaxConns:     cfg.MaxConnections,
		Logger:       s.logger,
	})
	return nil
}

// clientFramer returns the client side of the configured transport for a new connection
// of the service's client; nil (before the transport is provisioned) means the client's
// built-in Go Micro HTTP/1.1.
func (s *Service) clientFramer() component.ClientFramer {
	if s.newFramer == nil {
		return nil
	}
	return s.newFramer()
}

// wasmFramers returns a framer factory over the transport module m.
func wasmFramers(m *wasmcomponent.Module) func() transport.Framer {
	return func() transport.Framer { return &transport.Wasm{Module: m} }
}

// switchingFramer is one connection's framer for a transport in mode auto: each call runs on
// a framer of the twin or module current when it starts, made anew when that changed since
// the connection's previous call. Framing is sans-I/O — every call is handed all the bytes
// not yet consumed — so a request half read when the transport changes is framed whole by
// the new framer.
type switchingFramer struct {
	sw    *wasmcomponent.Switch[func() transport.Framer]
	held  *wasmcomponent.Held[func() transport.Framer]
	inner transport.Framer
}

// use takes the current framer factory for one call; done releases it.
func (f *switchingFramer) use() (transport.Framer, *wasmcomponent.Held[func() transport.Framer], error) {
	h := f.sw.Acquire()
	if h == nil {
		return nil, nil, wasmcomponent.ErrClosed
	}
	if h != f.held {
		f.held, f.inner = h, h.Value()()
	}
	return f.inner, h, nil
}

func (f *switchingFramer) Frame(ctx context.Context, buf []byte, lim component.TransportLimits, fr *component.TransportFrame) (int, error) {
	in, h, err := f.use()
	if err != nil {
		return 0, err
	}
	defer h.Release()
	return in.Frame(ctx, buf, lim, fr)
}

func (f *switchingFramer) Head(ctx context.Context, dst []byte, status int, headers []component.TransportHeader, bodyLen int, keepAlive bool) ([]byte, error) {
	in, h, err := f.use()
	if err != nil {
		return nil, err
	}
	defer h.Release()
	return in.Head(ctx, dst, status, headers, bodyLen, keepAlive)
}

func (f *switchingFramer) Request(ctx context.Context, dst []byte, host string, headers []component.TransportHeader, bodyLen int) ([]byte, error) {
	in, h, err := f.use()
	if err != nil {
		return nil, err
	}
	defer h.Release()
	return in.Request(ctx, dst, host, headers, bodyLen)
}

func (f *switchingFramer) Response(ctx context.Context, buf []byte, lim component.TransportLimits, r *component.TransportResponse) (int, error) {
	in, h, err := f.use()
	if err != nil {
		return 0, err
	}
	defer h.Release()
	return in.Response(ctx, buf, lim, r)
}
