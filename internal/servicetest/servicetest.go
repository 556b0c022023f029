// Package servicetest runs microhost services for tests: one handler module, served on
// 127.0.0.1 and registered in a local registry, for as long as the test runs.
package servicetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/plugins/standard"
)

// Service says what to run.
type Service struct {
	// Name and Version are the service's.
	Name, Version string
	// Module is the handler module, loaded from PluginDir/Module.wasm.
	Module    string
	PluginDir string
	// Registry is the local registry the service registers in, whose directory is
	// RegistryDir.
	Registry    *localregistry.Registry
	RegistryDir string
	// Extra lines end the config: keys of the handler's table (pool_size = 1), then any
	// further tables.
	Extra []string
	// Logger receives the service's log; nil discards it.
	Logger *slog.Logger
	// SynchronousSpans exports each span as it ends (service.Deps.SynchronousSpans).
	SynchronousSpans bool
	// Compilations holds the service's compiled modules (service.Deps.Compilations); nil
	// gives it its own.
	Compilations *host.Compilations
}

// Start runs s on 127.0.0.1 with the shared compilation cache until the test ends, and
// returns it once its node is in the registry. The registration lives 10 s and is
// refreshed every second.
func Start(tb testing.TB, s Service) *service.Service {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = %q
version = %q
[server]
address = "127.0.0.1:0"
[registry]
address = %q
ttl = "10s"
interval = "1s"
[plugins]
dir = %q
cache_dir = %q
[[handler]]
module = %q
%s
`, s.Name, s.Version, s.RegistryDir, s.PluginDir, host.DefaultCacheDir(), s.Module, strings.Join(s.Extra, "\n"))
	require.NoError(tb, os.WriteFile(path, []byte(text), 0o644))
	cfg, err := config.Load(path)
	require.NoError(tb, err)
	cfg.Override(func(string) string { return "" }, nil)
	require.NoError(tb, cfg.Finish())

	ctx, cancel := context.WithCancel(context.Background())
	cat, err := standard.Catalogue("")
	require.NoError(tb, err)
	svc, err := service.New(ctx, cfg, service.Deps{Registry: s.Registry, Catalogue: cat, Logger: s.Logger, SynchronousSpans: s.SynchronousSpans, Compilations: s.Compilations})
	if err != nil {
		cancel()
	}
	require.NoError(tb, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = svc.Close(context.Background())
	})
	node := svc.Record().Nodes[0].ID
	require.Eventually(tb, func() bool {
		svcs, err := s.Registry.GetService(ctx, s.Name)
		if err != nil {
			return false
		}
		for _, rec := range svcs {
			for _, n := range rec.Nodes {
				if n.ID == node {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "service %s did not register", s.Name)
	return svc
}
