// Package config reads a service's TOML configuration strictly (an unknown key or a bad value
// is an error naming the key and the file) and applies environment and flag overrides in Go
// Micro's manner.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/ports"
)

// Config is a whole service configuration, as `microhost run config.toml` reads it.
type Config struct {
	// Service names the service and its version and metadata.
	Service Service `toml:"service"`
	// Server configures the listener.
	Server Server `toml:"server"`
	// Registry chooses and configures the registry.
	Registry Registry `toml:"registry"`
	// Plugins says where modules and compiled code live.
	Plugins Plugins `toml:"plugins"`
	// Client configures calls this service makes.
	Client Client `toml:"client"`
	// Codec names the codec modules and chooses the native or the Wasm twin of each.
	Codec Codec `toml:"codec"`
	// Handlers lists the handler modules the service serves.
	Handlers []Handler `toml:"handler"`
	// Broker configures publishing and the delivery listener of subscribers.
	Broker Broker `toml:"broker"`
	// Transport chooses the wire protocol plugin and bounds connections.
	Transport Transport `toml:"transport"`
	// Subscribers lists the subscriber modules and the topics they take.
	Subscribers []Subscriber `toml:"subscriber"`
	// Selector chooses the node each call goes to.
	Selector Selector `toml:"selector"`
	// Admin configures the operator's listener: health, metrics, pprof, the admin page.
	Admin Admin `toml:"admin"`
	// Tracing chooses where the service's spans go.
	Tracing Tracing `toml:"tracing"`

	// path is the file the config came from; relative paths resolve against its directory.
	path string
	dir  string
	// setBy names, by setting name ("server_address"), the environment variable or flag
	// that overrode the file's value.
	setBy map[string]string
}

// Service is the [service] table.
type Service struct {
	Name     string            `toml:"name"`
	Version  string            `toml:"version"`
	Metadata map[string]string `toml:"metadata"`
}

// Server is the [server] table.
type Server struct {
	// Address is where to listen: host:port, host:min-max (the first free port of the
	// range) or :0.
	Address string `toml:"address"`
	// Advertise is the address given to the registry when listening on all interfaces.
	Advertise string `toml:"advertise"`
	// MaxBodyBytes caps a request body; larger requests get a 413 error.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// Timeout is the handler deadline when a request carries no Timeout header.
	Timeout Duration `toml:"timeout"`
	// DrainTimeout bounds the graceful stop: requests in progress get this long to finish
	// before they are cancelled and their connections closed (default 10 s).
	DrainTimeout Duration `toml:"drain_timeout"`
	// MaxReplyHeaders caps the number of headers a handler sets on its reply (default 64);
	// over it the call fails with a 500 naming the limit.
	MaxReplyHeaders int `toml:"max_reply_headers"`
	// MaxReplyHeaderBytes caps their total size, name + value + 4 bytes each (default
	// 32 KiB, or half of transport.max_header_bytes when that is smaller); it must be
	// smaller than transport.max_header_bytes, so a reply head fits what a peer reads.
	MaxReplyHeaderBytes int `toml:"max_reply_header_bytes"`
}

// Plugins is the [plugins] table.
type Plugins struct {
	// Dir is the plugin folder: a module named X is loaded from Dir/X.wasm.
	Dir string `toml:"dir"`
	// CacheDir holds compiled modules between runs ("off" disables it).
	CacheDir string `toml:"cache_dir"`
	// CacheMaxBytes bounds the compilation cache on disk (default 2 GiB): past it, the
	// entries written longest ago are removed at start; -1 means no bound.
	CacheMaxBytes int64 `toml:"cache_max_bytes"`
	// StartupTimeout bounds each start-up phase of every module (its start function,
	// _initialize, its descriptor export); zero means 10 s.
	StartupTimeout Duration `toml:"startup_timeout"`
	// LogBytesPerCall caps what one call of a handler or subscriber module may log (the log
	// import and stdout/stderr together; default 64 KiB); -1 means no cap.
	LogBytesPerCall int `toml:"log_bytes_per_call"`
	// LogBytesPerSecond caps what all instances of one such module may log in a second
	// (default 1 MiB); -1 means no cap.
	LogBytesPerSecond int `toml:"log_bytes_per_second"`
}

// Client is the [client] table.
type Client struct {
	// Timeout bounds each call.
	Timeout Duration `toml:"timeout"`
	// CredentialMetadata names metadata keys that carry credentials, in addition to
	// Authorization, Proxy-Authorization and Cookie: a module's calls do not forward them
	// unless its forward_metadata grant lists them.
	CredentialMetadata []string `toml:"credential_metadata"`
}

// Handler is one [[handler]] entry.
type Handler struct {
	// Module names the module: it is loaded from the plugin folder as Module + ".wasm".
	Module string `toml:"module"`
	// Path loads the module from this file instead of the plugin folder.
	Path string `toml:"path"`
	// PoolSize bounds the module's warm instances (and so its concurrent calls).
	PoolSize int `toml:"pool_size"`
	// MemoryLimitMB caps each instance's memory.
	MemoryLimitMB int `toml:"memory_limit_mb"`
	// Interrupt stops a guest still running at its deadline; on by default.
	Interrupt *bool `toml:"interrupt"`
	// Calls grants the module calls to these services and endpoints through the call host
	// function: "greeter" (every endpoint), "billing.Charge" (one method), "*" (any service).
	// Empty grants none.
	Calls []string `toml:"calls"`
	// Publishes grants the module publishing to topics matching these patterns ("orders.*":
	// "*" is one dot-separated segment, a final "**" one or more). Empty grants none.
	Publishes []string `toml:"publishes"`
	// ForwardMetadata lets the module's calls forward these credential keys of the calling
	// request's metadata (Authorization, Cookie, … see [client] credential_metadata), which
	// are otherwise dropped.
	ForwardMetadata []string `toml:"forward_metadata"`
}

// Broker is the [broker] table: the broker component (module, path, mode, pool_size and
// [broker.options], see Component) and the host's settings of publishing and of the
// delivery listener.
type Broker struct {
	Component
	// Address is where subscribers receive deliveries: host:port, host:min-max or :0.
	Address string `toml:"address"`
	// Advertise is the address registered for subscribers when listening on all interfaces.
	Advertise string `toml:"advertise"`
	// RetryFor bounds the time a failed delivery is retried; Backoff is the first pause
	// between tries (it doubles, up to a second).
	RetryFor Duration `toml:"retry_for"`
	Backoff  Duration `toml:"backoff"`
	// Timeout bounds one delivery attempt, the subscriber's work included.
	Timeout Duration `toml:"timeout"`
}

// Subscriber is one [[subscriber]] entry: a module that takes the messages of a topic.
type Subscriber struct {
	// Topic is the topic subscribed to; the module must declare it.
	Topic string `toml:"topic"`
	// Queue names a queue group: each message goes to one subscriber of the group. Empty
	// means every message reaches this subscriber.
	Queue string `toml:"queue"`
	// Module, Path, PoolSize, MemoryLimitMB and Interrupt are as for a [[handler]].
	Module        string `toml:"module"`
	Path          string `toml:"path"`
	PoolSize      int    `toml:"pool_size"`
	MemoryLimitMB int    `toml:"memory_limit_mb"`
	Interrupt     *bool  `toml:"interrupt"`
	// Publishes grants the module publishing, as for a [[handler]].
	Publishes []string `toml:"publishes"`
}

// Duration is a time.Duration written as a string such as "30s" or "1m30s".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a value such as \"30s\" or \"1m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults.
const (
	DefaultServerAddress = "127.0.0.1:0"
	DefaultRegistry      = "local"
	DefaultTTL           = Duration(30 * time.Second)
	DefaultInterval      = Duration(15 * time.Second)
	DefaultMaxBodyBytes  = 4 << 20
	// DefaultDrainTimeout bounds the graceful stop of a service.
	DefaultDrainTimeout = Duration(10 * time.Second)
	DefaultTimeout      = Duration(5 * time.Second)
	// DefaultMaxReplyHeaders and DefaultMaxReplyHeaderBytes cap the headers a handler sets
	// on its reply; DefaultLogBytesPerCall and DefaultLogBytesPerSecond a module's log
	// output. They are the host's own defaults (internal/host).
	DefaultMaxReplyHeaders     = 64
	DefaultMaxReplyHeaderBytes = 32 << 10
	DefaultLogBytesPerCall     = 64 << 10
	DefaultLogBytesPerSecond   = 1 << 20
)

// Load reads the file at path strictly, applies defaults and validates the result.
// Environment overrides are applied by Override, not here.
func Load(path string) (*Config, error) {
	c := new(Config)
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("config %s: %s", path, perr.ErrorWithPosition())
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.path = path
	c.dir = filepath.Dir(abs)
	return c, nil
}

// Override applies environment variables and then flags (flags win): the one place where
// the environment reaches a configuration — `run` and `validate` apply it to the config file,
// the other commands to an empty config. Each map is keyed by setting name:
// "server_address", "server_advertise", "registry", "registry_address", "registry_mode",
// "selector", "selector_mode", "broker_address", "plugin_dir", "cache_dir", "admin_address".
// Environment variables are MICROHOST_ followed by the upper-cased name.
func (c *Config) Override(getenv func(string) string, flags map[string]string) {
	if c.setBy == nil {
		c.setBy = map[string]string{}
	}
	set := func(name string, dst *string) {
		if env := "MICROHOST_" + strings.ToUpper(name); getenv(env) != "" {
			*dst = getenv(env)
			c.setBy[name] = "$" + env
		}
		if v, ok := flags[name]; ok && v != "" {
			*dst = v
			c.setBy[name] = "--" + strings.ReplaceAll(name, "_", "-")
		}
	}
	set("server_address", &c.Server.Address)
	set("server_advertise", &c.Server.Advertise)
	set("registry", &c.Registry.Name)
	set("registry_address", &c.Registry.Address)
	set("registry_mode", &c.Registry.Mode)
	set("selector", &c.Selector.Module)
	set("selector_mode", &c.Selector.Mode)
	set("broker_address", &c.Broker.Address)
	set("plugin_dir", &c.Plugins.Dir)
	set("cache_dir", &c.Plugins.CacheDir)
	set("admin_address", &c.Admin.Address)
}

// Finish fills in defaults, resolves relative paths against the config file's directory and
// validates the result. Call it after Override.
func (c *Config) Finish() error {
	if c.Server.Address == "" {
		c.Server.Address = DefaultServerAddress
	}
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Server.Timeout == 0 {
		c.Server.Timeout = DefaultTimeout
	}
	if c.Server.DrainTimeout == 0 {
		c.Server.DrainTimeout = DefaultDrainTimeout
	}
	if c.Client.Timeout == 0 {
		c.Client.Timeout = DefaultTimeout
	}
	if c.Registry.TTL == 0 {
		c.Registry.TTL = DefaultTTL
	}
	if c.Registry.Interval == 0 {
		c.Registry.Interval = DefaultInterval
	}
	if c.Plugins.Dir == "" {
		c.Plugins.Dir = "plugins"
	}
	c.Plugins.Dir = c.resolve(c.Plugins.Dir)
	if c.Plugins.CacheDir != "" && c.Plugins.CacheDir != "off" {
		c.Plugins.CacheDir = c.resolve(c.Plugins.CacheDir)
	}
	for i := range c.Handlers {
		h := &c.Handlers[i]
		if h.Path == "" && h.Module != "" {
			h.Path = filepath.Join(c.Plugins.Dir, h.Module+".wasm")
		}
		h.Path = c.resolve(h.Path)
	}
	c.finishBroker()
	c.finishTransport()
	c.finishCaps()
	c.finishSelector()
	c.finishCodec()
	c.finishRegistry()
	c.finishAdmin()
	if err := c.validate(); err != nil {
		return fmt.Errorf("config %s: %w", c.path, err)
	}
	return nil
}

// KeyError returns err as a problem with the setting key ("server.address",
// "handler[0].module") of the config file, as Finish's errors are: "config FILE: key: err",
// and when an environment variable or a flag set the key, "key (set by $VAR)".
func (c *Config) KeyError(key string, err error) error {
	if by := c.setBy[strings.ReplaceAll(key, ".", "_")]; by != "" {
		key += " (set by " + by + ")"
	}
	return fmt.Errorf("config %s: %s: %w", c.path, key, err)
}

// finishCaps fills in the guest output caps; it runs after finishTransport.
func (c *Config) finishCaps() {
	if c.Server.MaxReplyHeaders == 0 {
		c.Server.MaxReplyHeaders = DefaultMaxReplyHeaders
	}
	if c.Server.MaxReplyHeaderBytes == 0 {
		c.Server.MaxReplyHeaderBytes = min(DefaultMaxReplyHeaderBytes, c.Transport.MaxHeaderBytes/2)
	}
	if c.Plugins.LogBytesPerCall == 0 {
		c.Plugins.LogBytesPerCall = DefaultLogBytesPerCall
	}
	if c.Plugins.LogBytesPerSecond == 0 {
		c.Plugins.LogBytesPerSecond = DefaultLogBytesPerSecond
	}
}

func (c *Config) validateCaps() []error {
	var errs []error
	if c.Server.MaxReplyHeaders < 0 {
		errs = append(errs, errors.New("server.max_reply_headers: must not be negative"))
	}
	switch {
	case c.Server.MaxReplyHeaderBytes < 0:
		errs = append(errs, errors.New("server.max_reply_header_bytes: must not be negative"))
	case c.Transport.MaxHeaderBytes > 0 && c.Server.MaxReplyHeaderBytes >= c.Transport.MaxHeaderBytes:
		errs = append(errs, fmt.Errorf("server.max_reply_header_bytes: %d must be smaller than transport.max_header_bytes %d, or replies would not fit what a peer reads",
			c.Server.MaxReplyHeaderBytes, c.Transport.MaxHeaderBytes))
	}
	if c.Plugins.LogBytesPerCall < -1 {
		errs = append(errs, errors.New("plugins.log_bytes_per_call: must be positive, or -1 for no cap"))
	}
	if c.Plugins.LogBytesPerSecond < -1 {
		errs = append(errs, errors.New("plugins.log_bytes_per_second: must be positive, or -1 for no cap"))
	}
	return errs
}

func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Service.Name == "" {
		bad("service.name", "is required")
	} else if strings.ContainsAny(c.Service.Name, "/\\ \t\n") {
		bad("service.name", "%q may not contain slashes or spaces", c.Service.Name)
	}
	if c.Registry.Interval >= c.Registry.TTL {
		bad("registry.interval", "%s must be shorter than registry.ttl %s", c.Registry.Interval.D(), c.Registry.TTL.D())
	}
	if _, err := ports.Parse(c.Server.Address); err != nil {
		key := "server.address"
		if by := c.setBy["server_address"]; by != "" {
			key += " (set by " + by + ")"
		}
		bad(key, "%s", strings.TrimPrefix(err.Error(), "ports: "))
	}
	if c.Server.MaxBodyBytes < 0 {
		bad("server.max_body_bytes", "must not be negative")
	}
	if len(c.Handlers) == 0 && len(c.Subscribers) == 0 {
		bad("handler", "at least one [[handler]] or [[subscriber]] is required")
	}
	errs = append(errs, c.validateCaps()...)
	errs = append(errs, c.validateBroker()...)
	errs = append(errs, c.validateTransport()...)
	errs = append(errs, c.validateSelector()...)
	errs = append(errs, c.validateCodec()...)
	errs = append(errs, c.validateRegistry()...)
	errs = append(errs, c.validateAdmin()...)
	for i, h := range c.Handlers {
		key := fmt.Sprintf("handler[%d]", i)
		if h.Module == "" && h.Path == "" {
			bad(key+".module", "is required (or give path)")
		}
		if h.PoolSize < 0 {
			bad(key+".pool_size", "must not be negative")
		}
		if h.MemoryLimitMB < 0 || h.MemoryLimitMB > 4096 {
			bad(key+".memory_limit_mb", "must be between 1 and 4096")
		}
		for j, c := range h.Calls {
			if c == "" || strings.ContainsAny(c, "/\\ \t\n") {
				bad(fmt.Sprintf("%s.calls[%d]", key, j), "%q is not a service or service.Endpoint name", c)
			}
		}
		for j, p := range h.Publishes {
			if err := component.ValidateTopicPattern(p); err != nil {
				bad(fmt.Sprintf("%s.publishes[%d]", key, j), "%v", err)
			}
		}
	}
	for i, sc := range c.Subscribers {
		for j, p := range sc.Publishes {
			if err := component.ValidateTopicPattern(p); err != nil {
				bad(fmt.Sprintf("subscriber[%d].publishes[%d]", i, j), "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}
