package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/host/transport"
	httptransport "github.com/microhost/microhost/plugins/http-transport"
)

// provisionTransport builds the server side of the transport for h: the http-transport
// plugin as Wasm (mode "wasm", or "auto" with the module in the plugin folder) or its
// native twin, with the configured limits and timeouts.
func (s *Service) provisionTransport(ctx context.Context, h transport.Handler) error {
	cfg := s.cfg.Transport
	newFramer := func() transport.Framer { return transport.Native{} }
	mode := "native"
	_, statErr := os.Stat(cfg.Path)
	if cfg.Mode == "wasm" || (cfg.Mode == "auto" && statErr == nil) {
		if statErr != nil && errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("transport: mode is wasm but %s does not exist", cfg.Path)
		}
		m, err := s.rt.Load(ctx, cfg.Path, host.ModuleOptions{PoolSize: cfg.PoolSize})
		if err != nil {
			return fmt.Errorf("transport: %w", err)
		}
		s.modules = append(s.modules, m)
		if kind := m.Descriptor().Kind; kind != abi.KindTransport {
			return fmt.Errorf("transport: %s is a %s module, not a transport", cfg.Path, kind)
		}
		newFramer = func() transport.Framer { return &transport.Wasm{Module: m} }
		mode = "wasm"
	}
	s.logger.Debug("transport", "mode", mode)
	s.transport = transport.NewServer(h, transport.ServerOptions{
		NewFramer:    newFramer,
		Limits:       httptransport.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes, MaxBodyBytes: int(s.cfg.Server.MaxBodyBytes)},
		ReadTimeout:  cfg.ReadTimeout.D(),
		IdleTimeout:  cfg.IdleTimeout.D(),
		WriteTimeout: cfg.WriteTimeout.D(),
		Logger:       s.logger,
	})
	return nil
}
