package config

import (
	"fmt"
)

// Registry is the [registry] table: the registry component (module, path, mode, pool_size,
// [registry.options]) and the host's registry settings beside it.
type Registry struct {
	Component
	// Name chooses the registry: "local" (the embedded registry, the default) or
	// "consul". It says which settings the registry gets and what its module is granted,
	// and gives the default module: "local" → "local-registry", "consul" →
	// "consul-registry".
	Name string `toml:"name"`
	// Address is the registry's address: for "local", a directory; for "consul", agents'
	// host:port, comma-separated.
	Address string `toml:"address"`
	// TTL is how long a registration lives without being refreshed.
	TTL Duration `toml:"ttl"`
	// Interval is how often the service re-registers.
	Interval Duration `toml:"interval"`
	// Token is the Consul ACL token (else CONSUL_HTTP_TOKEN).
	Token string `toml:"token"`
	// TLSCAFile, TLSCertFile and TLSKeyFile are Consul's TLS files (else CONSUL_CACERT,
	// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY); setting any speaks https.
	TLSCAFile   string `toml:"tls_ca_file"`
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
	// TLSInsecureSkipVerify does not verify Consul's certificate.
	TLSInsecureSkipVerify bool `toml:"tls_insecure_skip_verify"`
	// DeregisterCriticalAfter is how long a node's Consul check may stay critical before
	// Consul removes the node. Zero means max(ttl, 1m) + 5s; Consul never reaps sooner
	// than a minute.
	DeregisterCriticalAfter Duration `toml:"deregister_critical_after"`
}

// RegistryOptions are the [registry.options] sub-table, decoded strictly.
type RegistryOptions struct {
	// PollInterval is how often a local registry's watch looks at the directory; zero
	// means 100 ms.
	PollInterval Duration `toml:"poll_interval"`
	// WatchWait bounds one watch; zero means 30 s.
	WatchWait Duration `toml:"watch_wait"`
}

// RegistryModule returns the module a registry name stands for by default: "local" →
// "local-registry", "consul" → "consul-registry".
func RegistryModule(name string) string {
	return name + "-registry"
}

func (c *Config) finishRegistry() {
	r := &c.Registry
	if r.Name == "" {
		r.Name = DefaultRegistry
	}
	c.finishComponent(&r.Component, RegistryModule(r.Name))
	r.TLSCAFile = c.resolve(r.TLSCAFile)
	r.TLSCertFile = c.resolve(r.TLSCertFile)
	r.TLSKeyFile = c.resolve(r.TLSKeyFile)
}

func (c *Config) validateRegistry() []error {
	r := &c.Registry
	errs := validateComponent("registry", &r.Component)
	switch r.Name {
	case "local", "consul":
	default:
		errs = append(errs, fmt.Errorf("registry.name: unknown registry %q (known: local, consul)", r.Name))
	}
	if _, err := r.DecodeOptions(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// DecodeOptions decodes the [registry.options] sub-table strictly.
func (r *Registry) DecodeOptions() (RegistryOptions, error) {
	var o RegistryOptions
	err := DecodeOptions("registry.options", r.Options, &o)
	return o, err
}
