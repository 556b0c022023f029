package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Transport is the [transport] table: the wire protocol plugin and the connection limits.
type Transport struct {
	// Mode chooses the twin of the http-transport plugin: "auto" (the default: the module
	// from the plugin folder when it is there, else the native twin), "native" or "wasm".
	Mode string `toml:"mode"`
	// Module names the transport module in the plugin folder (default "http-transport").
	Module string `toml:"module"`
	// Path loads the module from this file instead.
	Path string `toml:"path"`
	// PoolSize bounds the module's warm instances (default GOMAXPROCS).
	PoolSize int `toml:"pool_size"`
	// MaxHeaderBytes bounds a request's line and headers (default 64 KiB); larger get 431.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// ReadTimeout bounds receiving one request once it has started (default 10 s); a client
	// that sends half a request and stalls gets 408 and is disconnected.
	ReadTimeout Duration `toml:"read_timeout"`
	// IdleTimeout closes a kept-alive connection idle this long (default 2 min).
	IdleTimeout Duration `toml:"idle_timeout"`
	// WriteTimeout bounds writing one reply (default 10 s).
	WriteTimeout Duration `toml:"write_timeout"`
}

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
	if t.Mode == "" {
		t.Mode = "auto"
	}
	if t.Module == "" {
		t.Module = DefaultTransportModule
	}
	if t.Path == "" {
		t.Path = filepath.Join(c.Plugins.Dir, t.Module+".wasm")
	}
	t.Path = c.resolve(t.Path)
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
	var errs []error
	switch c.Transport.Mode {
	case "auto", "native", "wasm":
	default:
		errs = append(errs, fmt.Errorf("transport.mode: unknown mode %q (known: auto, native, wasm)", c.Transport.Mode))
	}
	if c.Transport.MaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("transport.max_header_bytes: must not be negative"))
	}
	if c.Transport.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("transport.pool_size: must not be negative"))
	}
	return errs
}
