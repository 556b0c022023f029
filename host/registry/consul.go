package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/microhost/microhost/host"
	consulregistry "github.com/microhost/microhost/plugins/consul-registry"
)

// ConsulPlugin is the Consul plugin's file name in the plugin folder.
const ConsulPlugin = "consul-registry.wasm"

// ConsulOptions configure a Consul registry.
type ConsulOptions struct {
	// Addresses are Consul agents' HTTP addresses, "host:port" or "http(s)://host:port",
	// tried in order. Empty means 127.0.0.1:8500.
	Addresses []string
	// Token is the ACL token.
	Token string
	// TLS, when Enabled or when any file is set, makes the registry speak https.
	TLS TLSOptions
	// DeregisterCriticalAfter is how long a node's check may stay critical before Consul
	// removes it; zero means Go Micro's max(ttl, 1m) + 5s. Consul never reaps sooner than a
	// minute after the check turned critical, and looks every 30 s.
	DeregisterCriticalAfter time.Duration
	// WatchWait bounds one blocking query. Zero means 30 s.
	WatchWait time.Duration
	// Plugin says where the plugin comes from and how it runs.
	Plugin PluginOptions
}

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

// ApplyEnv fills settings left empty from Consul's standard environment variables:
// CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY,
// CONSUL_HTTP_SSL and CONSUL_HTTP_SSL_VERIFY.
func (o *ConsulOptions) ApplyEnv(getenv func(string) string) error {
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
		addrs = []string{consulregistry.DefaultAddress}
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

// consulConfig is the Consul plugin's Registry-Config header (abi/ABI.md, "Registry plugins").
type consulConfig struct {
	Addresses                 []string `json:"addresses"`
	Scheme                    string   `json:"scheme"`
	Token                     string   `json:"token,omitempty"`
	DeregisterCriticalAfterMS int64    `json:"deregister_critical_after_ms,omitempty"`
	WatchWaitMS               int64    `json:"watch_wait_ms,omitempty"`
}

// NewConsul opens a Consul registry: the consul-registry.wasm plugin, granted outbound HTTP to
// the configured addresses only, or the native twin. It does not contact Consul.
func NewConsul(ctx context.Context, opts ConsulOptions) (*Registry, error) {
	addrs, https, err := parseAddresses(opts.Addresses)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	var tlsConfig *tls.Config
	if https || opts.TLS.on() {
		scheme = "https"
		if tlsConfig, err = opts.TLS.Config(); err != nil {
			return nil, err
		}
	}
	watchWait := opts.WatchWait
	if watchWait <= 0 {
		watchWait = consulregistry.DefaultWatchWait
	}
	path, useWasm, err := opts.Plugin.pluginPath(ConsulPlugin)
	if err != nil {
		return nil, err
	}
	if useWasm {
		cfg := consulConfig{
			Addresses:                 addrs,
			Scheme:                    scheme,
			Token:                     opts.Token,
			DeregisterCriticalAfterMS: opts.DeregisterCriticalAfter.Milliseconds(),
			WatchWaitMS:               watchWait.Milliseconds(),
		}
		grant := host.ModuleOptions{AllowedHosts: addrs, OutboundTLS: tlsConfig}
		return loadPlugin(ctx, opts.Plugin, pluginSpec{name: "consul", path: path, grant: grant, config: cfg, watchWait: watchWait})
	}
	native, err := consulregistry.New(consulregistry.Options{
		Addresses: addrs,
		Scheme:    scheme,
		Token:     opts.Token,
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}},
		DeregisterCriticalAfter: opts.DeregisterCriticalAfter,
		WatchWait:               watchWait,
	})
	if err != nil {
		return nil, err
	}
	return &Registry{name: "consul", mode: ModeNative, b: timed{native, 15 * time.Second, watchWait + 15*time.Second}}, nil
}
