package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of the [broker] table.
const (
	DefaultBrokerAddress = "127.0.0.1:0"
	DefaultBrokerModule  = "http-broker"
	DefaultRetryFor      = Duration(5 * time.Second)
	DefaultBackoff       = Duration(10 * time.Millisecond)
	DefaultBrokerTimeout = Duration(10 * time.Second)
)

// BrokerOptions are the [broker.options] of the stock broker, http-broker: it has none, so
// any key there is an error.
type BrokerOptions struct{}

// finishBroker fills in the [broker] defaults and resolves the module paths of the broker
// plugin and of each [[subscriber]].
func (c *Config) finishBroker() {
	b := &c.Broker
	if b.Address == "" {
		b.Address = DefaultBrokerAddress
	}
	c.finishComponent(&b.Component, DefaultBrokerModule)
	if b.RetryFor == 0 {
		b.RetryFor = DefaultRetryFor
	}
	if b.Backoff == 0 {
		b.Backoff = DefaultBackoff
	}
	if b.Timeout == 0 {
		b.Timeout = DefaultBrokerTimeout
	}
	for i := range c.Subscribers {
		s := &c.Subscribers[i]
		if s.Path == "" && s.Module != "" {
			s.Path = filepath.Join(c.Plugins.Dir, s.Module+".wasm")
		}
		s.Path = c.resolve(s.Path)
	}
}

func (c *Config) validateBroker() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, validateComponent("broker", &c.Broker.Component)...)
	if err := DecodeOptions("broker.options", c.Broker.Options, &BrokerOptions{}); err != nil {
		errs = append(errs, err)
	}
	for i, s := range c.Subscribers {
		key := fmt.Sprintf("subscriber[%d]", i)
		switch {
		case s.Topic == "":
			bad(key+".topic", "is required")
		case strings.ContainsAny(s.Topic, " \t\r\n"):
			bad(key+".topic", "%q may not contain white space", s.Topic)
		}
		if s.Module == "" && s.Path == "" {
			bad(key+".module", "is required (or give path)")
		}
		if s.PoolSize < 0 {
			bad(key+".pool_size", "must not be negative")
		}
		if s.MemoryLimitMB < 0 || s.MemoryLimitMB > 4096 {
			bad(key+".memory_limit_mb", "must be between 1 and 4096")
		}
	}
	return errs
}
