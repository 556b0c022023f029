package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/config"
	hostregistry "github.com/microhost/microhost/host/registry"
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
	fs.StringVar(&r.mode, "registry-mode", "", "run the registry as its wasm plugin or native (default: wasm when the plugin is in the plugin folder) [$MICROHOST_REGISTRY_MODE]")
}

// resolve applies the environment under the flags.
func (r *registryFlags) resolve(getenv env) {
	r.getenv = getenv
	if r.name == "" {
		r.name = getenv("MICROHOST_REGISTRY")
	}
	if r.address == "" {
		r.address = getenv("MICROHOST_REGISTRY_ADDRESS")
	}
	if r.mode == "" {
		r.mode = getenv("MICROHOST_REGISTRY_MODE")
	}
	if r.name == "" {
		r.name = "local"
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

// registrySettings are what opening a registry needs, from a config file or from flags.
type registrySettings struct {
	name, address, mode string
	pluginDir, cacheDir string
	token               string
	tls                 hostregistry.TLSOptions
	deregisterAfter     time.Duration
	logger              *slog.Logger
}

// configRegistry takes the settings from a service's config.
func configRegistry(cfg *config.Config, logger *slog.Logger) registrySettings {
	r := cfg.Registry
	return registrySettings{
		name: r.Name, address: r.Address, mode: r.Mode,
		pluginDir: cfg.Plugins.Dir, cacheDir: cfg.Plugins.CacheDir,
		token: r.Token,
		tls: hostregistry.TLSOptions{
			CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile,
			InsecureSkipVerify: r.TLSInsecureSkipVerify,
		},
		deregisterAfter: r.DeregisterCriticalAfter.D(),
		logger:          logger,
	}
}

// openRegistry opens the registry s names; Consul settings left empty come from Consul's
// standard environment variables.
func openRegistry(ctx context.Context, s registrySettings, getenv env) (registry, error) {
	mode, err := hostregistry.ParseMode(s.mode)
	if err != nil {
		return nil, usageError("%v", err)
	}
	plugin := hostregistry.PluginOptions{Mode: mode, PluginDir: s.pluginDir, CacheDir: s.cacheDir, Logger: s.logger}
	switch s.name {
	case "local":
		return hostregistry.NewLocal(ctx, hostregistry.LocalOptions{Dir: s.address, Plugin: plugin})
	case "consul":
		opts := hostregistry.ConsulOptions{
			Token:                   s.token,
			TLS:                     s.tls,
			DeregisterCriticalAfter: s.deregisterAfter,
			Plugin:                  plugin,
		}
		for _, a := range strings.Split(s.address, ",") {
			if a = strings.TrimSpace(a); a != "" {
				opts.Addresses = append(opts.Addresses, a)
			}
		}
		if err := opts.ApplyEnv(getenv); err != nil {
			return nil, err
		}
		return hostregistry.NewConsul(ctx, opts)
	default:
		return nil, usageError("unknown registry %q (known: local, consul)", s.name)
	}
}

// open opens the registry the flags and environment name, loading a registry plugin from
// $MICROHOST_PLUGIN_DIR or else the plugins folder beside the microhost binary.
func (r *registryFlags) open() (registry, error) {
	getenv := r.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return openRegistry(context.Background(), registrySettings{
		name: r.name, address: r.address, mode: r.mode,
		pluginDir: defaultPluginDir(getenv),
		cacheDir:  getenv("MICROHOST_CACHE_DIR"),
	}, getenv)
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
