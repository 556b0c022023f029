package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/microhost/microhost/abi"
)

// Info is what Inspect learned about a module file.
type Info struct {
	// Path is the file inspected.
	Path string
	// Size is the file's size in bytes.
	Size int64
	// Compiled says whether the file compiled as WebAssembly; when it did not, only Path,
	// Size and Refused are set.
	Compiled bool
	// ABIVersion is the major version named by the module's marker export, or 0 when it has
	// none.
	ABIVersion int
	// Descriptor is what the module says it is; nil when the host refuses the module.
	Descriptor *abi.Descriptor
	// Imports are the functions the module imports, in the module's order: the host
	// functions (capabilities) it uses and the WASI functions its language's runtime needs.
	Imports []Import
	// Exports are the names of the functions the module exports, sorted.
	Exports []string
	// Memory is the declared limits of the exported memory; nil when there is none.
	Memory *MemoryLimits
	// Refused says why the host refuses to load the module; nil when it loads. It is the
	// error Load returns.
	Refused error
}

// Import is one imported function.
type Import struct {
	// Module is the namespace: "microhost" or "wasi_snapshot_preview1".
	Module string
	// Name is the function's name.
	Name string
	// Signature is the function's type, such as "(i32,i32) -> (i32)".
	Signature string
}

// MemoryLimits are a memory's declared sizes, in 64 KiB pages.
type MemoryLimits struct {
	// MinPages is the initial size.
	MinPages uint32
	// MaxPages is the declared maximum, when HasMax.
	MaxPages uint32
	// HasMax says whether the module declares a maximum; without one the host's cap
	// applies.
	HasMax bool
}

// Inspect reads, compiles and checks the module at path as Load does, without keeping it:
// it reports what the module declares and, in Info.Refused, why the host would refuse it.
// The error is for a file that cannot be read; anything wrong with its contents is in
// Info.Refused, with as much of Info filled in as could be read.
func (r *Runtime) Inspect(ctx context.Context, path string) (*Info, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inspect module: %w", err)
	}
	info := &Info{Path: path, Size: int64(len(wasm))}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		info.Refused = fmt.Errorf("load module %s: %w", path, ErrNotWasm)
		return info, nil
	}
	// The code is compiled once, as Load compiles it: what it declares is read from that
	// compilation, which the load below then instantiates.
	opts := ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}.withDefaults()
	sum, _ := digestOf(wasm)
	c, hit, err := r.compiledCode(ctx, path, wasm, sum, opts)
	if err != nil {
		info.Refused = fmt.Errorf("load module %s: %w", path, err)
		return info, nil
	}
	compiled := c.compiled
	info.Compiled = true
	for _, fn := range compiled.ImportedFunctions() {
		module, name, _ := fn.Import()
		info.Imports = append(info.Imports, Import{
			Module:    module,
			Name:      name,
			Signature: typeNames(fn.ParamTypes()) + " -> " + typeNames(fn.ResultTypes()),
		})
	}
	for name := range compiled.ExportedFunctions() {
		info.Exports = append(info.Exports, name)
		if v, ok := strings.CutPrefix(name, abi.MarkerPrefix); ok {
			if n, err := strconv.Atoi(v); err == nil && (info.ABIVersion == 0 || n == abi.Version) {
				info.ABIVersion = n
			}
		}
	}
	slices.Sort(info.Exports)
	if mem, ok := compiled.ExportedMemories()[abi.ExportMemory]; ok {
		maxPages, hasMax := mem.Max()
		info.Memory = &MemoryLimits{MinPages: mem.Min(), MaxPages: maxPages, HasMax: hasMax}
	}

	// Everything else Load checks (exports, imports, the descriptor, the initializer) is
	// checked by loading it; a runaway initializer is stopped by the caller's deadline.
	m, err := r.loadCompiled(ctx, path, c, hit, sum, opts)
	if err != nil {
		info.Refused = fmt.Errorf("load module %s: %w", path, err)
		return info, nil
	}
	defer m.Close(ctx)
	desc := m.Descriptor()
	info.Descriptor = &desc
	return info, nil
}

// InstanceMemoryBytes returns the size of the linear memory of one of the module's warm
// instances, for measuring what an instance costs. It waits for an idle instance as Call
// does.
func (m *Module) InstanceMemoryBytes(ctx context.Context) (uint32, error) {
	inst, err := m.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer m.release(inst)
	return inst.mod.Memory().Size(), nil
}
