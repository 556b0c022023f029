package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/config"
	hostregistry "github.com/microhost/microhost/internal/registry"
)

// registryFlags are the flags every command that talks to a registry takes.
type registryFlags struct {
	name    string
	address string
	mode    string
	getenv  env
}

func (r *registryFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&r.name, "registry", "", "registry: local (default) or consul [$MICROHOST_REGISTRY]")
	fs.StringVar(&r.address, "registry-address", "", "registry address: for local, a directory; for consul, host:port[,host:port…] [$MICROHOST_REGISTRY_ADDRESS, $CONSUL_HTTP_ADDR]")
	fs.StringVar(&r.mode, "registry-mode", "", "run the registry as its native twin, its wasm module, or auto: native unless the module file differs from the stock build [$MICROHOST_REGISTRY_MODE]")
}

// resolve applies the environment under the flags, where a service's config reads it:
// config.Override.
func (r *registryFlags) resolve(getenv env) {
	r.getenv = getenv
	var c config.Config
	c.Override(getenv, map[string]string{"registry": r.name, "registry_address": r.address, "registry_mode": r.mode})
	r.name, r.address, r.mode = c.Registry.Name, c.Registry.Address, c.Registry.Mode
	if r.name == "" {
		r.name = config.DefaultRegistry
	}
}

// registry is everything the CLI does with a registry.
type registry interface {
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	Deregister(ctx context.Context, svc *abi.Service) error
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
	ListServices(ctx context.Context) ([]string, error)
	Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error)
	Close(ctx context.Context) error
}

// openRegistry opens the registry of a service's config, as the service does: through the
// stock catalogue and internal/registry.Open. Consul settings left empty come from Consul's
// standard environment variables. A Wasm runtime is made only when the module runs.
func openRegistry(ctx context.Context, cfg *config.Config, getenv env, logger *slog.Logger) (registry, error) {
	o, err := hostregistry.FromConfig(cfg, getenv)
	if err != nil {
		return nil, err
	}
	cat, err := stockCatalogue()
	if err != nil {
		return nil, err
	}
	return hostregistry.Open(ctx, o, cat, nil, logger)
}

// open opens the registry the flags and environment name, with the module taken from
// $MICROHOST_PLUGIN_DIR or else the plugins folder beside the microhost binary.
func (r *registryFlags) open() (registry, error) {
	getenv := r.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	switch r.name {
	case "local", "consul":
	default:
		return nil, usageError("unknown registry %q (known: local, consul)", r.name)
	}
	if _, err := hostregistry.ParseMode(r.mode); err != nil {
		return nil, usageError("%v", err)
	}
	cfg := &config.Config{
		Registry: config.Registry{Name: r.name, Address: r.address},
		Plugins:  config.Plugins{Dir: defaultPluginDir(getenv), CacheDir: getenv("MICROHOST_CACHE_DIR")},
	}
	cfg.Registry.Mode = r.mode
	cfg.Registry.Module = hostregistry.DefaultModule(r.name)
	return openRegistry(context.Background(), cfg, getenv, nil)
}

// defaultPluginDir is $MICROHOST_PLUGIN_DIR, or the plugins folder beside the binary (where
// `make build` puts them).
func defaultPluginDir(getenv env) string {
	if d := getenv("MICROHOST_PLUGIN_DIR"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}
