package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/telemetry"
)

// Module is a compiled, checked Wasm module with a bounded pool of warm instances. It is safe
// for concurrent use; each call runs on an instance of its own.
type Module struct {
	path   string
	name   string
	desc   abi.Descriptor
	opts   ModuleOptions
	logger *slog.Logger
	// code is the compilation the module's instances start from, which modules of the same
	// bytes and settings share (codetable.go); codes holds it.
	code     *compiled
	codes    *codeTable
	outbound *outbound
	// startup bounds each start-up phase of an instance (Options.StartupTimeout).
	startup time.Duration
	// logLimit is the module's log budget per second, nil when unlimited.
	logLimit *logLimiter
	// roots are the mounts' file systems, one per opts.Mounts entry (rootfs.go).
	roots []*rootFS

	// idle holds warm instances; slots holds one token per instance that may exist, so at
	// most opts.PoolSize instances are alive and a caller waits for a token when all are
	// busy.
	idle  chan *instance
	slots chan struct{}

	// obs observes the module's calls and instances (nil without telemetry); removePool
	// takes its pool off the metrics. cacheHit says whether its compiled code came from the
	// compilation cache; digest is the SHA-256 of its bytes, hex.
	obs        *telemetry.Module
	removePool func()
	cacheHit   bool
	digest     string

	// liveMemories is the Runtime's count of guest memories alive.
	liveMemories *atomic.Int64

	// out counts the instances taken from the pool and not yet given back; closing is set
	// by Close. The module's resources are released once both say so (see Close).
	out       atomic.Int64
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Load reads, compiles and checks the module at path and starts its first instance. The
// error names the file and the problem: not Wasm, another ABI version, a missing export, a
// bad descriptor or a failing initializer.
func (r *Runtime) Load(ctx context.Context, path string, opts ModuleOptions) (*Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load module: %w", err)
	}
	m, err := r.load(ctx, path, wasm, opts)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", path, err)
	}
	return m, nil
}

func (r *Runtime) load(ctx context.Context, path string, wasm []byte, opts ModuleOptions) (*Module, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, ErrNotWasm
	}
	opts = opts.withDefaults()
	sum, digest := digestOf(wasm)
	if !opts.InterruptOnDeadline && !r.proven.has(sum) && (opts.StartupTrusted == nil || !opts.StartupTrusted(digest)) {
		// The module's own runtime cannot stop a looping guest, so its start-up is first
		// proven, under the deadline, in a runtime that can.
		probe := opts
		probe.InterruptOnDeadline = true
		probe.Publisher, probe.Services = nil, nil
		probe.probe = true
		pm, err := r.load(ctx, path, wasm, probe)
		if err != nil {
			return nil, err
		}
		_ = pm.Close(ctx)
	}

	c, hit, err := r.compiledCode(ctx, path, wasm, sum, opts)
	if err != nil {
		return nil, err
	}
	return r.loadCompiled(ctx, path, c, hit, sum, opts)
}

// compiledCode returns the compilation of wasm, whose digest is sum, under opts (which have
// their defaults), counted once more: the one in use by other modules, else the one
// Precompile made, else a new one. hit reports whether the code was compiled before, by
// this process or an earlier one. Release it with r.codes.release unless a Module took it.
func (r *Runtime) compiledCode(ctx context.Context, path string, wasm []byte, sum [sha256.Size]byte, opts ModuleOptions) (c *compiled, hit bool, err error) {
	key := codeKeyOf(sum, opts)
	if c := r.codes.acquire(key); c != nil {
		return c, true, nil
	}
	c, err = r.takePrecompiled(ctx, path, key.sum, opts)
	if c == nil && err == nil {
		c, err = r.compile(ctx, wasm, key.sum, opts)
	}
	if err != nil {
		return nil, false, err
	}
	got, err := r.codes.add(ctx, key, c)
	if err != nil {
		return nil, false, err
	}
	return got, got != c || c.hit, nil
}

// loadCompiled finishes the load of the module at path, whose digest is sum, from its
// compiled code c, which it counts as its own; opts have their defaults. On error c is
// released.
func (r *Runtime) loadCompiled(ctx context.Context, path string, c *compiled, hit bool, sum [sha256.Size]byte, opts ModuleOptions) (*Module, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	m := &Module{path: path, name: name, opts: opts, logger: r.logger.With("module", name), code: c, codes: r.codes, startup: r.startup, liveMemories: &r.liveMemories}
	m.cacheHit, m.digest = hit, hex.EncodeToString(sum[:])
	m, err := r.finishLoad(ctx, m)
	if err == nil && opts.InterruptOnDeadline {
		r.proven.add(sum) // its start-up finished in a runtime that could stop it
	}
	return m, err
}

// compileKey names the compilation of a module whose digest is sum under opts: code that
// stops at deadlines is another compilation of the same bytes.
func compileKey(sum [sha256.Size]byte, opts ModuleOptions) [sha256.Size]byte {
	if opts.InterruptOnDeadline {
		sum[0] ^= 1
	}
	return sum
}

// compiled is a module's code compiled in a wazero runtime of its own, configured for the
// module's options; once in a codeTable, the modules loaded from it share it.
type compiled struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	// hit reports whether the code came from the compilation cache.
	hit bool
	// key names it in the codeTable, and refs counts the modules using it (guarded by the
	// table's mutex).
	key  codeKey
	refs int
}

// compile compiles wasm, whose digest (with the interrupt bit) is key, in a new runtime
// configured by opts.
func (r *Runtime) compile(ctx context.Context, wasm []byte, key [sha256.Size]byte, opts ModuleOptions) (*compiled, error) {
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(r.cache).
		WithMemoryLimitPages(opts.MemoryLimitPages).
		WithCloseOnContextDone(opts.InterruptOnDeadline)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	filesBefore, memHit := r.cacheFiles(), r.seenBefore(key)
	code, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("compile: %w", err)
	}
	return &compiled{rt: rt, compiled: code, hit: memHit || (filesBefore >= 0 && r.cacheFiles() == filesBefore)}, nil
}

// finishLoad checks m's compiled code, starts its first instance and reads its descriptor.
// On error it releases m's compiled code.
func (r *Runtime) finishLoad(ctx context.Context, m *Module) (*Module, error) {
	opts, compiled := m.opts, m.code.compiled
	if opts.LogBytesPerSecond > 0 {
		m.logLimit = &logLimiter{perSecond: opts.LogBytesPerSecond}
	}
	ok := false
	defer func() {
		if !ok {
			_ = m.codes.release(context.WithoutCancel(ctx), m.code)
			m.closeRoots()
		}
	}()

	if err := checkExports(compiled); err != nil {
		return nil, err
	}
	for _, mt := range opts.Mounts {
		root, err := newRootFS(mt.HostDir, mt.ReadOnly)
		if err != nil {
			m.closeRoots()
			return nil, fmt.Errorf("mount %s: %w", mt.GuestPath, err)
		}
		m.roots = append(m.roots, root)
	}
	m.outbound = newOutbound(opts)

	started := time.Now()
	first, err := m.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	firstTook := time.Since(started)
	dctx, cancel := context.WithTimeout(ctx, m.startup)
	desc, err := first.describe(dctx)
	cancel()
	if err != nil {
		_ = first.mod.Close(ctx)
		return nil, startupErr(ctx, dctx, abi.ExportDescribe, m.startup, err)
	}
	m.desc = desc

	m.idle = make(chan *instance, opts.PoolSize)
	m.slots = make(chan struct{}, opts.PoolSize)
	m.slots <- struct{}{}
	m.idle <- first
	if !opts.probe && r.tel != nil {
		r.tel.Compiled(m.cacheHit)
		m.obs = r.tel.Module(telemetry.ModuleInfo{Kind: desc.Kind, Name: desc.Name, Version: desc.Version, Digest: m.digest, Path: m.path})
		m.obs.Instantiated(firstTook)
		m.removePool = m.obs.AddPool(m.poolStats)
	}
	ok = true
	m.logger.Debug("module loaded", "path", m.path, "name", desc.Name, "endpoints", len(desc.Endpoints))
	return m, nil
}

// checkExports refuses a module of another ABI major version or without the v1 exports.
func checkExports(compiled wazero.CompiledModule) error {
	exports := compiled.ExportedFunctions()
	if _, ok := exports[abi.ExportMarker]; !ok {
		for name := range exports {
			if v, found := strings.CutPrefix(name, abi.MarkerPrefix); found {
				return fmt.Errorf("%w: module is built for ABI version %s, this host speaks version %d", ErrABIVersion, v, abi.Version)
			}
		}
		return fmt.Errorf("%w: %s (is it a microhost module? build it with an SDK for ABI version %d)", ErrMissingExport, abi.ExportMarker, abi.Version)
	}
	if err := checkImports(compiled); err != nil {
		return err
	}
	want := map[string][]api.ValueType{
		abi.ExportDescribe: {api.ValueTypeI64},
		abi.ExportHandle:   {api.ValueTypeI32},
	}
	params := map[string][]api.ValueType{
		abi.ExportDescribe: nil,
		abi.ExportHandle:   {api.ValueTypeI32, api.ValueTypeI32},
	}
	for _, name := range []string{abi.ExportDescribe, abi.ExportHandle} {
		fn, ok := exports[name]
		if !ok {
			return fmt.Errorf("%w: %s", ErrMissingExport, name)
		}
		if !sameTypes(fn.ParamTypes(), params[name]) || !sameTypes(fn.ResultTypes(), want[name]) {
			return fmt.Errorf("export %s has signature %s -> %s, want %s -> %s", name,
				typeNames(fn.ParamTypes()), typeNames(fn.ResultTypes()), typeNames(params[name]), typeNames(want[name]))
		}
	}
	if _, ok := compiled.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("%w: memory", ErrMissingExport)
	}
	return nil
}

// checkImports refuses imports the host does not provide, naming them, before the module is
// instantiated.
func checkImports(compiled wazero.CompiledModule) error {
	for _, fn := range compiled.ImportedFunctions() {
		module, name, _ := fn.Import()
		switch module {
		case wasi_snapshot_preview1.ModuleName:
			continue
		case abi.ImportModule:
			sig, ok := hostFunctionTypes[name]
			if !ok {
				return fmt.Errorf("imports %s.%s, which ABI version %d does not have", module, name, abi.Version)
			}
			if !sameTypes(fn.ParamTypes(), sig[0]) || !sameTypes(fn.ResultTypes(), sig[1]) {
				return fmt.Errorf("imports %s.%s as %s -> %s, but it is %s -> %s", module, name,
					typeNames(fn.ParamTypes()), typeNames(fn.ResultTypes()), typeNames(sig[0]), typeNames(sig[1]))
			}
		default:
			return fmt.Errorf("imports %s.%s: only the %q and %q namespaces are provided", module, name, abi.ImportModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	return bytes.Equal(a, b)
}

func typeNames(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return "(" + strings.Join(names, ",") + ")"
}

// Descriptor returns what the module says it is.
func (m *Module) Descriptor() abi.Descriptor { return m.desc }

// Path returns the file the module was loaded from.
func (m *Module) Path() string { return m.path }

// Digest returns the SHA-256 of the module's bytes, hex.
func (m *Module) Digest() string { return m.digest }

// CacheHit reports whether the module's compiled code came from the compilation cache (in
// memory, or on disk from an earlier run) rather than being compiled at its load.
func (m *Module) CacheHit() bool { return m.cacheHit }

// poolStats counts the module's instances in use and idle.
func (m *Module) poolStats() (busy, idle int) {
	idle = len(m.idle)
	return max(len(m.slots)-idle, 0), idle
}

// Close stops every instance and releases the module. An instance still serving a call
// keeps its memory, mounts and code until that call gives it back: the module is released
// by the last one, and Close returns without waiting. Calls started after Close fail. It is
// safe to call more than once.
func (m *Module) Close(ctx context.Context) error {
	m.closing.Store(true)
	if m.out.Load() == 0 {
		m.finishClose(ctx)
		return m.closeErr
	}
	return nil
}

// finishClose releases the module's resources, once.
func (m *Module) finishClose(ctx context.Context) {
	m.closeOnce.Do(func() {
		if m.removePool != nil {
			m.removePool()
		}
		m.obs.Release()
		ctx := context.WithoutCancel(ctx)
		// Every instance is idle by now (out is zero); the compiled code is released once
		// no other module uses it.
		var errs []error
		for len(m.idle) > 0 {
			if err := (<-m.idle).mod.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, m.codes.release(ctx, m.code))
		m.closeErr = errors.Join(errs...)
		if m.outbound != nil {
			m.outbound.close()
		}
		m.closeRoots()
	})
}

// returned ends the use of an instance taken by acquire; the last one back after Close
// releases the module.
func (m *Module) returned(ctx context.Context) {
	if m.out.Add(-1) == 0 && m.closing.Load() {
		m.finishClose(ctx)
	}
}

func (m *Module) closeRoots() {
	for _, r := range m.roots {
		_ = r.close()
	}
	m.roots = nil
}

// instance is one warm instance of a module, used by one call at a time.
type instance struct {
	mod    api.Module
	handle api.Function
	stack  []uint64
	call   callState
	// ctx is the context calls run under when the module does not interrupt on deadlines
	// (see callContext); its state is call.
	ctx callCtx
}

func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{stack: make([]uint64, 2)}
	inst.call.logger = m.logger
	inst.call.logPerCall = m.opts.LogBytesPerCall
	inst.call.logLimit = m.logLimit
	inst.call.maxHeaders = m.opts.MaxReplyHeaders
	inst.call.maxHeaderBytes = m.opts.MaxReplyHeaderBytes
	inst.call.outbound = m.outbound
	out := &logWriter{state: &inst.call, level: slog.LevelInfo, stream: "stdout"}
	errOut := &logWriter{state: &inst.call, level: slog.LevelWarn, stream: "stderr"}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStdout(out).
		WithStderr(errOut).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		WithStartFunctions()
	if len(m.roots) > 0 {
		fsCfg := wazero.NewFSConfig()
		for i, mt := range m.opts.Mounts {
			fsCfg = fsCfg.(sysfs.FSConfig).WithSysFSMount(m.roots[i], mt.GuestPath)
		}
		cfg = cfg.WithFSConfig(fsCfg)
	}
	cfg = cfg.WithNanosleep(inst.call.sleep)
	sctx, cancel := context.WithTimeout(ctx, m.startup)
	defer cancel()
	inst.call.ctx = sctx
	defer func() { inst.call.ctx = nil }()
	mem := &memoryRecorder{live: m.liveMemories}
	mod, err := m.code.rt.InstantiateModule(experimental.WithMemoryAllocator(withCall(sctx, &inst.call), mem), m.code.compiled, cfg)
	if err != nil {
		mem.release()
		return nil, startupErr(ctx, sctx, "start function", m.startup, fmt.Errorf("instantiate: %w", err))
	}
	inst.mod, inst.handle = mod, mod.ExportedFunction(abi.ExportHandle)
	inst.ctx.state = &inst.call
	inst.call.publisher = m.opts.Publisher
	inst.call.services = m.opts.Services
	inst.call.grants = &m.opts.Grants
	inst.call.module = m.name
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(withCall(sctx, &inst.call)); err != nil {
			_ = mod.Close(ctx)
			return nil, startupErr(ctx, sctx, abi.ExportInitialize, m.startup, fmt.Errorf("%s: %w", abi.ExportInitialize, err))
		}
	}
	return inst, nil
}

// startupErr names the phase that did not finish: before the caller's own deadline, when
// parent (the call that needed a new instance) ran out first, or within the start-up
// deadline, when sctx (parent bounded by it) did; other errors pass unchanged.
// pass as they are.
func startupErr(parent, sctx context.Context, phase string, limit time.Duration, err error) error {
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("%s of a new instance did not finish before its caller's deadline or cancellation: %w: %w", phase, perr, err)
	}
	if errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s did not finish within the start-up deadline of %v: %w", ErrStartup, phase, limit, err)
	}
	return err
}

// ErrStartup is wrapped by Load's error when a start-up phase (the start function,
// _initialize or the descriptor export) runs past the start-up deadline.
var ErrStartup = errors.New("start-up deadline exceeded")

// describe calls the descriptor export and decodes and validates its JSON.
func (inst *instance) describe(ctx context.Context) (abi.Descriptor, error) {
	var desc abi.Descriptor
	inst.call.ctx = ctx
	defer func() { inst.call.ctx = nil }()
	res, err := inst.mod.ExportedFunction(abi.ExportDescribe).Call(withCall(ctx, &inst.call))
	if err != nil {
		return desc, fmt.Errorf("%s: %w", abi.ExportDescribe, err)
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	raw, ok := inst.mod.Memory().Read(ptr, n)
	if !ok {
		return desc, fmt.Errorf("%s returned %d bytes at %#x, outside the module's memory", abi.ExportDescribe, n, ptr)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&desc); err != nil {
		return desc, fmt.Errorf("descriptor is not valid JSON: %w", err)
	}
	if err := desc.Validate(); err != nil {
		return desc, err
	}
	return desc, nil
}

// acquire takes a warm instance, starting a new one if the pool has room, or waits for one
// to come back.
func (m *Module) acquire(ctx context.Context) (*instance, error) {
	m.out.Add(1)
	if m.closing.Load() {
		m.returned(ctx)
		return nil, fmt.Errorf("%s: %w", m.path, ErrModuleClosed)
	}
	inst, err := m.take(ctx)
	if err != nil {
		m.returned(ctx)
	}
	return inst, err
}

// take is acquire's wait for an instance, once the call is counted.
func (m *Module) take(ctx context.Context) (*instance, error) {
	select {
	case inst := <-m.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-m.idle:
		return inst, nil
	case m.slots <- struct{}{}:
		start := time.Now()
		inst, err := m.newInstance(ctx)
		if err != nil {
			<-m.slots
			return nil, err
		}
		m.obs.Instantiated(time.Since(start))
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", abi.NewError("", 503, "no free instance of %s", m.desc.Name), ctx.Err())
	}
}

// release returns a healthy instance to the pool.
func (m *Module) release(inst *instance) {
	if inst.call.outboundHeld {
		m.outbound.forget(inst.mod)
	}
	inst.call.reset()
	inst.ctx.Context = nil
	m.idle <- inst
	m.returned(context.Background())
}

// discard drops an instance that trapped or was interrupted; the next call that needs one
// starts a fresh instance in its place.
func (m *Module) discard(ctx context.Context, inst *instance) {
	if inst.call.outboundHeld {
		m.outbound.forget(inst.mod)
	}
	_ = inst.mod.Close(context.WithoutCancel(ctx))
	<-m.slots
	m.returned(ctx)
}

// ErrModuleClosed is wrapped by the error of a call to a module that was closed.
var ErrModuleClosed = errors.New("module closed")

// ErrGuestFault is wrapped by Call's error when the guest trapped, ran out of memory, broke
// the ABI (for example with an out-of-bounds pointer) or was stopped at its deadline. The
// instance is replaced; the module keeps serving.
var ErrGuestFault = errors.New("guest fault")
