package component

import (
	"context"
	"time"

	"github.com/microhost/microhost/abi"
)

// Registry is what every registry offers: the registry kind's interface (abi/registry.md).
// Both twins of a stock registry implement it — the plugin package natively, and the host's
// adapter over the module's operations.
type Registry interface {
	// Register registers (or refreshes) svc's nodes, each valid for ttl unless refreshed.
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	// Deregister removes svc's nodes.
	Deregister(ctx context.Context, svc *abi.Service) error
	// GetService returns the live registrations of name, one Service per version; an error
	// wrapping abi.ErrServiceNotFound when there are none.
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
	// ListServices returns the names of registered services, sorted.
	ListServices(ctx context.Context) ([]string, error)
	// Watch blocks until the registrations of name differ from those index stands for (0
	// answers at once) or the registry's wait bound passes, and returns the current
	// registrations (empty when none is live) and the index to pass next.
	Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error)
}

// RegistryOps are the operations a registry module serves, in the order of abi/registry.md.
var RegistryOps = []string{"register", "deregister", "get", "list", "watch"}

// RegistrySettings configure a registry: the settings record (abi/registry.md), which the
// Wasm twin receives in every request and the native twin's constructor takes, so that both
// twins are configured identically. A registry uses the fields that concern it and ignores
// the others.
type RegistrySettings struct {
	// Dir is the registry directory of a registry on files (local-registry). The host
	// mounts the directory at /registry for a module and sends Dir "/registry"; the native
	// twin gets the host path.
	Dir string
	// Addresses are the "host:port" of a networked registry's servers (consul-registry),
	// tried in order.
	Addresses []string
	// Scheme is "http" or "https" for Addresses.
	Scheme string
	// Token is the registry's access token (a Consul ACL token).
	Token string
	// DeregisterCriticalAfter is how long a node's health check may stay critical before the
	// registry drops it; zero means the registry's default.
	DeregisterCriticalAfter time.Duration
	// WatchWait bounds one Watch call; zero means the registry's default.
	WatchWait time.Duration
	// PollInterval is how often a polling registry looks for a change; zero means its
	// default.
	PollInterval time.Duration
	// TLSCAFile, TLSCertFile, TLSKeyFile and TLSInsecureSkipVerify are the TLS settings of
	// Addresses. They are host-side only and never encoded: the native twin reads the
	// files, and for a module the host applies them to the module's outbound-HTTP grant.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	TLSInsecureSkipVerify              bool
}

// RegistryTwin is what a registry's native twin puts in Twin.Native.
type RegistryTwin struct {
	// New opens the registry with the given settings.
	New func(ctx context.Context, s RegistrySettings) (Registry, error)
}
