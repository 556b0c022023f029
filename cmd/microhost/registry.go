package main

import (
	"context"
	"flag"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/localregistry"
)

// registryFlags are the flags every command that talks to a registry takes.
type registryFlags struct {
	name    string
	address string
}

func (r *registryFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&r.name, "registry", "", "registry: local (default) [$MICROHOST_REGISTRY]")
	fs.StringVar(&r.address, "registry-address", "", "registry address; for local, a directory [$MICROHOST_REGISTRY_ADDRESS]")
}

// resolve applies the environment under the flags.
func (r *registryFlags) resolve(getenv env) {
	if r.name == "" {
		r.name = getenv("MICROHOST_REGISTRY")
	}
	if r.address == "" {
		r.address = getenv("MICROHOST_REGISTRY_ADDRESS")
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
}

func openRegistry(name, address string) (registry, error) {
	switch name {
	case "local":
		return localregistry.New(address)
	default:
		return nil, usageError("unknown registry %q (known: local)", name)
	}
}

func (r *registryFlags) open() (registry, error) {
	return openRegistry(r.name, r.address)
}
