package consulregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/microhost/microhost/host/component"
)

// Name is the registry's module name: its module is consul-registry.wasm.
const Name = "consul-registry"

// Twin returns the native twin of the consul-registry module.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindRegistry, Name: Name, Native: component.RegistryTwin{New: Open}}
}

// Open opens the registry the settings describe, natively: Go's HTTP client, with the TLS
// settings' files read here. It does not contact Consul.
func Open(_ context.Context, s component.RegistrySettings) (component.Registry, error) {
	var tlsConfig *tls.Config
	if s.Scheme == "https" {
		var err error
		if tlsConfig, err = TLSConfig(s); err != nil {
			return nil, err
		}
	}
	return New(Options{
		Addresses: s.Addresses,
		Scheme:    s.Scheme,
		Token:     s.Token,
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}},
		DeregisterCriticalAfter: s.DeregisterCriticalAfter,
		WatchWait:               s.WatchWait,
	})
}

// TLSConfig builds the tls.Config of the settings' TLS files.
func TLSConfig(s component.RegistrySettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.TLSInsecureSkipVerify} //nolint:gosec // a user's explicit choice
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("consul CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("consul CA file %s holds no PEM certificate", s.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return nil, errors.New("consul client certificate and key must be given together")
	}
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("consul client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
