package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
)

// ConsulPlugin is the Consul registry module's file name in the plugin folder.
const ConsulPlugin = "consul-registry.wasm"

// DefaultConsulAddress is the Consul agent's usual HTTP address, used when none is
// configured.
const DefaultConsulAddress = "127.0.0.1:8500"

// TLSOptions are a Consul client's TLS settings.
type TLSOptions struct {
	// Enabled speaks https even with no file set (CONSUL_HTTP_SSL).
	Enabled bool
	// CAFile holds the PEM certificates that verify the agent (CONSUL_CACERT).
	CAFile string
	// CertFile and KeyFile are the client certificate and key (CONSUL_CLIENT_CERT,
	// CONSUL_CLIENT_KEY).
	CertFile string
	KeyFile  string
	// InsecureSkipVerify does not verify the agent's certificate.
	InsecureSkipVerify bool
}

func (t TLSOptions) on() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify
}

// Config builds the tls.Config the settings describe.
func (t TLSOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // a user's explicit choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("consul CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("consul CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("consul client certificate and key must be given together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("consul client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ApplyEnv fills Consul settings left empty from Consul's standard environment variables:
// CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY,
// CONSUL_HTTP_SSL and CONSUL_HTTP_SSL_VERIFY.
func (o *Options) ApplyEnv(getenv func(string) string) error {
	if len(o.Addresses) == 0 {
		if v := getenv("CONSUL_HTTP_ADDR"); v != "" {
			o.Addresses = splitList(v)
		}
	}
	if o.Token == "" {
		o.Token = getenv("CONSUL_HTTP_TOKEN")
	}
	if o.TLS.CAFile == "" {
		o.TLS.CAFile = getenv("CONSUL_CACERT")
	}
	if o.TLS.CertFile == "" {
		o.TLS.CertFile = getenv("CONSUL_CLIENT_CERT")
	}
	if o.TLS.KeyFile == "" {
		o.TLS.KeyFile = getenv("CONSUL_CLIENT_KEY")
	}
	if v := getenv("CONSUL_HTTP_SSL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("CONSUL_HTTP_SSL=%q: want true or false", v)
		}
		o.TLS.Enabled = o.TLS.Enabled || b
	}
	if v := getenv("CONSUL_HTTP_SSL_VERIFY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("CONSUL_HTTP_SSL_VERIFY=%q: want true or false", v)
		}
		o.TLS.InsecureSkipVerify = o.TLS.InsecureSkipVerify || !b
	}
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseAddresses strips schemes from addresses and reports whether any asked for https.
func parseAddresses(addrs []string) ([]string, bool, error) {
	if len(addrs) == 0 {
		addrs = []string{DefaultConsulAddress}
	}
	out := make([]string, 0, len(addrs))
	https := false
	for _, a := range addrs {
		switch {
		case strings.HasPrefix(a, "https://"):
			https = true
			a = strings.TrimPrefix(a, "https://")
		case strings.HasPrefix(a, "http://"):
			a = strings.TrimPrefix(a, "http://")
		case strings.Contains(a, "://"):
			return nil, false, fmt.Errorf("consul address %q: only http and https are supported", a)
		}
		a = strings.TrimSuffix(a, "/")
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "8500")
		}
		out = append(out, a)
	}
	return out, https, nil
}

// consul plans a Consul registry: the module is granted outbound HTTP to the addresses
// only, with the TLS settings applied by the host; the native twin reads them itself.
func (o Options) consul() (plan, error) {
	addrs, https, err := parseAddresses(o.Addresses)
	if err != nil {
		return plan{}, err
	}
	scheme := "http"
	var tlsConfig *tls.Config
	if https || o.TLS.on() {
		scheme = "https"
		if tlsConfig, err = o.TLS.Config(); err != nil {
			return plan{}, err
		}
	}
	watchWait := o.WatchWait
	if watchWait <= 0 {
		watchWait = DefaultWatchWait
	}
	s := component.RegistrySettings{
		Addresses:               addrs,
		Scheme:                  scheme,
		Token:                   o.Token,
		DeregisterCriticalAfter: o.DeregisterCriticalAfter,
		WatchWait:               watchWait,
		TLSCAFile:               o.TLS.CAFile,
		TLSCertFile:             o.TLS.CertFile,
		TLSKeyFile:              o.TLS.KeyFile,
		TLSInsecureSkipVerify:   o.TLS.InsecureSkipVerify,
	}
	return plan{
		native:    s,
		wasm:      s,
		grant:     host.ModuleOptions{AllowedHosts: addrs, OutboundTLS: tlsConfig},
		watchWait: watchWait,
	}, nil
}
