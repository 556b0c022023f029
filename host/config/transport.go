package config

import (
	"fmt"
	"time"
)

// Transport is the [transport] table: the wire protocol component (module, path, mode,
// pool_size, [transport.options]) and the connection limits and timeouts the host enforces.
type Transport struct {
	// Component chooses the transport module (default "http-transport") and its twin. The
	// pool size bounds the module's warm instances (default GOMAXPROCS).
	Component
	// MaxHeaderBytes bounds a request's line and headers (default 64 KiB); larger get 431.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// ReadTimeout bounds receiving one request once it has started (default 10 s); a client
	// that sends half a request and stalls gets 408 and is disconnected.
	ReadTimeout Duration `toml:"read_timeout"`
	// MaxConnections caps the connections open at once (default 1024); at the cap, new
	// connections wait in the listen backlog until one closes.
	MaxConnections int `toml:"max_connections"`
	// IdleTimeout closes a kept-alive connection idle this long (default 2 min).
	IdleTimeout Duration `toml:"idle_timeout"`
	// WriteTimeout bounds writing one reply (default 10 s).
	WriteTimeout Duration `toml:"write_timeout"`
}

// TransportOptions are the settings of the [transport.options] table. The stock transport
// has none, so any key there is an error.
type TransportOptions struct{}

// Defaults of the [transport] table.
const (
	DefaultTransportModule = "http-transport"
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultReadTimeout     = Duration(10 * time.Second)
	DefaultIdleTimeout     = Duration(2 * time.Minute)
	DefaultWriteTimeout    = Duration(10 * time.Second)
)

func (c *Config) finishTransport() {
	t := &c.Transport
	c.finishComponent(&t.Component, DefaultTransportModule)
	if t.MaxHeaderBytes == 0 {
		t.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if t.ReadTimeout == 0 {
		t.ReadTimeout = DefaultReadTimeout
	}
	if t.IdleTimeout == 0 {
		t.IdleTimeout = DefaultIdleTimeout
	}
	if t.WriteTimeout == 0 {
		t.WriteTimeout = DefaultWriteTimeout
	}
}

func (c *Config) validateTransport() []error {
	errs := validateComponent("transport", &c.Transport.Component)
	if c.Transport.MaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("transport.max_header_bytes: must not be negative"))
	}
	if c.Transport.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("transport.max_connections: must not be negative"))
	}
	if err := DecodeOptions("transport.options", c.Transport.Options, &TransportOptions{}); err != nil {
		errs = append(errs, err)
	}
	return errs
}
