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
	var newFramer func() transport.Framer
	switch ch.Mode {
	case component.ModeNative:
		twin, ok := ch.Twin.Native.(component.TransportTwin)
		if !ok || twin.NewFramer == nil {
			return fmt.Errorf("transport: the native twin %q is a %T, not a component.TransportTwin", ch.Name, ch.Twin.Native)
		}
		newFramer = twin.NewFramer
	default:
		m, err := wasmcomponent.Load(ctx, s.loader(), wasmcomponent.Spec{
			Kind:    component.KindTransport,
			Name:    cfg.Module,
			Path:    cfg.Path,
			Ops:     component.TransportOps,
			Options: host.ModuleOptions{PoolSize: cfg.PoolSize},
		})
		if err != nil {
			return err
		}
		newFramer = func() transport.Framer { return &transport.Wasm{Module: m} }
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
