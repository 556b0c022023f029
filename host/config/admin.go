package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/microhost/microhost/ports"
)

// Admin is the [admin] table: the operator's listener, serving /livez, /readyz, /metrics,
// /debug/pprof/ and the admin page.
type Admin struct {
	// Address is where to listen: host:port, host:min-max or :0; "off" serves no admin
	// listener. The default is 127.0.0.1:0, a free port on the loopback interface, logged at
	// start-up.
	Address string `toml:"address"`
	// Metrics serves the Prometheus metrics at /metrics; on by default (with the listener).
	Metrics *bool `toml:"metrics"`
}

// Tracing is the [tracing] table: where the service's OpenTelemetry spans go.
type Tracing struct {
	// Exporter is "off" (the default), "otlp" (OTLP over HTTP to Endpoint) or "stdout"
	// (one JSON document per span on standard output).
	Exporter string `toml:"exporter"`
	// Endpoint is the OTLP/HTTP collector's base URL, such as "http://127.0.0.1:4318"; the
	// spans go to its /v1/traces.
	Endpoint string `toml:"endpoint"`
}

// Defaults of the admin listener and tracing.
const (
	DefaultAdminAddress = "127.0.0.1:0"
	AdminOff            = "off"
	DefaultTracing      = "off"
)

// MetricsOn reports whether the admin listener serves metrics.
func (a Admin) MetricsOn() bool {
	return a.Address != AdminOff && (a.Metrics == nil || *a.Metrics)
}

func (c *Config) finishAdmin() {
	if c.Admin.Address == "" {
		c.Admin.Address = DefaultAdminAddress
	}
	if c.Tracing.Exporter == "" {
		c.Tracing.Exporter = DefaultTracing
	}
	c.Tracing.Endpoint = strings.TrimRight(c.Tracing.Endpoint, "/")
}

func (c *Config) validateAdmin() []error {
	var errs []error
	if c.Admin.Address != AdminOff {
		if _, err := ports.Parse(c.Admin.Address); err != nil {
			key := "admin.address"
			if by := c.setBy["admin_address"]; by != "" {
				key += " (set by " + by + ")"
			}
			errs = append(errs, fmt.Errorf("%s: %s (or \"off\")", key, strings.TrimPrefix(err.Error(), "ports: ")))
		}
	}
	switch c.Tracing.Exporter {
	case "off", "stdout":
	case "otlp":
		u, err := url.Parse(c.Tracing.Endpoint)
		if c.Tracing.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.endpoint: %q is not an http:// or https:// URL (the OTLP/HTTP collector, such as http://127.0.0.1:4318)", c.Tracing.Endpoint))
		}
	default:
		errs = append(errs, fmt.Errorf("tracing.exporter: %q is not one of off, otlp, stdout", c.Tracing.Exporter))
	}
	return errs
}
