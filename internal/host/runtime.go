// Package host runs microhost's Wasm modules on wazero: it compiles them once (through an
// on-disk compilation cache), checks their ABI marker and descriptor, keeps a bounded pool of
// warm instances per module and implements the host functions of ABI v1.
package host

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/microhost/microhost/internal/telemetry"
)

// Options configure a Runtime.
type Options struct {
	// CacheDir holds compiled modules between runs. Empty means the default under the user's
	// cache directory; "off" disables the on-disk cache.
	CacheDir string
	// CacheMaxBytes bounds the on-disk cache: past it, the entries written longest ago are
	// removed when a Runtime starts. Zero means DefaultCacheMaxBytes; negative, no bound.
	CacheMaxBytes int64
	// Logger receives the host's records and the guests' log output. Nil discards them.
	Logger *slog.Logger
	// StartupTimeout bounds each start-up phase of a module (its start function, its
	// _initialize export, its descriptor export) at load. Zero means DefaultStartupTimeout.
	StartupTimeout time.Duration
	// Telemetry observes every module loaded through the runtime: its calls, instances,
	// instantiation time and compile-cache use, and a span for each call. Nil observes
	// nothing.
	Telemetry *telemetry.Telemetry
	// Compilations, when set, holds the runtime's compiled modules and its compilation
	// cache, shared with the other runtimes given it, and keeps the compilations its
	// modules no longer use as it was told to. Nil gives the runtime its own, which keeps
	// none: a compilation goes with the last module using it.
	Compilations *Compilations
}

// DefaultStartupTimeout is the default bound on each start-up phase of a module.
const DefaultStartupTimeout = 10 * time.Second

// Runtime owns what the modules loaded through it share: the compilation cache, the table
// of compilations in use (or those of Options.Compilations) and the logger. Each compilation
// has a wazero runtime of its own, so each has its own memory cap and deadline setting;
// instances are anonymous, so no module can import another's exports (codetable.go).
type Runtime struct {
	cache   wazero.CompilationCache
	logger  *slog.Logger
	startup time.Duration
	tel     *telemetry.Telemetry
	// cacheDir is the on-disk cache's directory, "" when it is off; compiled holds the
	// digests of the modules compiled in this process (compiled.go).
	cacheDir string
	compiled digestSet
	// proven holds the digests of the modules whose start-up was proven in this process,
	// under the deadline in a runtime that can stop it: a later load of the same bytes
	// (the conformance suite's, then the swap's) is not proven again.
	proven digestSet
	// liveMemories counts the guest memories allocated and not yet released, for tests to
	// prove that none leaks.
	liveMemories atomic.Int64
	// pre holds the compilations Precompile started (precompile.go).
	pre precompiler
	// codes holds the compilations loaded modules use, shared by modules of the same bytes
	// and settings (codetable.go): the runtime's own, or that of Options.Compilations, whose
	// cache then is r.cache, which the runtime does not own (ownsCache).
	codes     *codeTable
	ownsCache bool
	// pruned is closed when the cache's prune, which NewRuntime starts, is done; nil when
	// none runs.
	pruned chan struct{}
}

// DefaultCacheDir is where compiled modules are cached when Options.CacheDir is empty.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "microhost", "wazero")
}

// NewRuntime returns a Runtime. Close it to release the cache.
func NewRuntime(ctx context.Context, opts Options) (*Runtime, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{logger: logger, startup: opts.StartupTimeout, tel: opts.Telemetry}
	if r.startup <= 0 {
		r.startup = DefaultStartupTimeout
	}
	dir := opts.CacheDir
	switch dir {
	case "off":
		dir = ""
	case "":
		dir = DefaultCacheDir()
	}
	var err error
	if opts.Compilations != nil {
		r.codes = &opts.Compilations.table
		r.cache, err = opts.Compilations.cache(dir)
	} else {
		r.codes, r.ownsCache = &codeTable{}, true
		r.cache, err = newCompilationCache(dir)
	}
	if err != nil {
		return nil, err
	}
	if dir != "" {
		max := opts.CacheMaxBytes
		if max == 0 {
			max = DefaultCacheMaxBytes
		}
		if max > 0 {
			// Reading the sizes of a large cache takes milliseconds that start-up need not
			// wait for. Close waits for it, so a prune is not cut short by the process's exit
			// (each removal is atomic anyway).
			pruned := make(chan struct{})
			r.pruned = pruned
			go func() {
				defer close(pruned)
				pruneCache(dir, max, time.Now(), logger)
			}()
		}
		r.cacheDir = dir
	}
	return r, nil
}

// Close waits for the cache's prune, if one runs, and releases the compilation cache unless
// it is that of Options.Compilations. Modules loaded from r must be closed first.
func (r *Runtime) Close(ctx context.Context) error {
	if r.pruned != nil {
		<-r.pruned
	}
	if !r.ownsCache {
		return nil
	}
	return r.cache.Close(ctx)
}

// ModuleOptions configure one loaded module.
type ModuleOptions struct {
	// PoolSize bounds the number of instances, and so of concurrent calls, of the module.
	// Zero means GOMAXPROCS.
	PoolSize int
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages. Zero means 1024
	// pages (64 MiB).
	MemoryLimitPages uint32
	// InterruptOnDeadline stops a guest that is still running when its call's context is
	// done. It costs guest speed on loop-heavy code (see RATIONALE.md), so it is a choice.
	// A module loaded without it has its start-up proven first, under the start-up
	// deadline, in a runtime that can stop it, unless StartupTrusted says otherwise or the
	// same bytes already started in such a runtime of this Runtime (a module checked by a
	// conformance suite, then swapped in, is proven once).
	InterruptOnDeadline bool
	// StartupTrusted, when it reports true for the module's digest (SHA-256, hex), spares a
	// module loaded without InterruptOnDeadline that proof: the build is one whose start-up is
	// known to finish, such as a stock component build the catalogue records. Nil trusts no
	// module.
	StartupTrusted func(digest string) bool
	// AllowedHosts grants the module outbound HTTP through the http_request host function,
	// to these hosts only: "host:port" allows that address, "host" any port of it. Empty
	// means the module reaches nothing; a request elsewhere gets an error, never a connection.
	AllowedHosts []string
	// OutboundTLS configures https requests made through http_request (roots, client
	// certificate). Nil uses the system roots.
	OutboundTLS *tls.Config
	// MaxResponseBytes bounds one outbound HTTP response. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Mounts grants the module host directories through WASI; they are the only files it
	// sees.
	Mounts []Mount
	// LogBytesPerCall caps the log output (log host function and stdout/stderr) of one call
	// or one instance's start-up; over it, records are cut and then dropped, marked by a
	// warning. Zero means DefaultLogBytesPerCall; negative means no cap.
	LogBytesPerCall int
	// LogBytesPerSecond caps the log output of all the module's instances in one second.
	// Zero means DefaultLogBytesPerSecond; negative means no cap.
	LogBytesPerSecond int
	// MaxReplyHeaders and MaxReplyHeaderBytes cap the headers a handler sets on its reply;
	// over either, the call fails with a 500 naming the limit. Zero means
	// DefaultMaxReplyHeaders and DefaultMaxReplyHeaderBytes.
	MaxReplyHeaders     int
	MaxReplyHeaderBytes int
	// Publisher serves the module's publish host function. Nil makes publish answer 503.
	Publisher Publisher
	// Services serves the module's call host function: calls to other services by name.
	// Nil makes call fail with a 503 error.
	Services ServiceCaller
	// Grants say which services the module may call, which topics it may publish to and
	// which credential metadata its calls forward. The zero value grants nothing.
	Grants Grants

	// probe marks the load that proves a module's start-up in a runtime that can interrupt
	// it (see load); it is not observed.
	probe bool
}

// Mount maps a host directory into a module's WASI file system.
type Mount struct {
	// HostDir is the directory on the host; it must exist.
	HostDir string
	// GuestPath is where the module sees it, such as "/registry".
	GuestPath string
	// ReadOnly refuses writes.
	ReadOnly bool
}

// DefaultMemoryLimitPages is the default per-instance memory cap: 64 MiB.
const DefaultMemoryLimitPages = 1024

// ErrNotWasm is wrapped by Load's error when a file is not a Wasm binary.
var ErrNotWasm = errors.New("not a WebAssembly binary")

// ErrABIVersion is wrapped by Load's error when a module is built for another ABI version.
var ErrABIVersion = errors.New("unsupported ABI version")

// ErrMissingExport is wrapped by Load's error when a module lacks a required export.
var ErrMissingExport = errors.New("missing export")

func (o ModuleOptions) withDefaults() ModuleOptions {
	if o.PoolSize <= 0 {
		o.PoolSize = runtime.GOMAXPROCS(0)
	}
	if o.MaxReplyHeaders <= 0 {
		o.MaxReplyHeaders = DefaultMaxReplyHeaders
	}
	if o.MaxReplyHeaderBytes <= 0 {
		o.MaxReplyHeaderBytes = DefaultMaxReplyHeaderBytes
	}
	if o.LogBytesPerCall == 0 {
		o.LogBytesPerCall = DefaultLogBytesPerCall
	}
	if o.LogBytesPerSecond == 0 {
		o.LogBytesPerSecond = DefaultLogBytesPerSecond
	}
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	return o
}
