package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host"
)

// Operation names a codec module serves through microhost_handle.
const (
	OpEncode = "encode"
	OpDecode = "decode"
)

// Caller calls an operation of a loaded module. *host.Module satisfies it.
type Caller interface {
	Call(ctx context.Context, req *host.Request) (*host.Response, error)
}

// NewWasm returns a Plugin that calls the codec module m: each operation sends the message as
// a microhost.abi.v1.Message envelope and reads the answer.
func NewWasm(m Caller) Plugin {
	return &wasmPlugin{m: m}
}

type wasmPlugin struct {
	m Caller
	// calls holds envelope buffers with the requests that carry them; a module call
	// copies its input and keeps no reference to the request, so both can be reused as
	// soon as the call returns.
	calls sync.Pool
}

// wasmCall is the reusable part of one module call: the request and its envelope buffer.
type wasmCall struct {
	req host.Request
	buf []byte
}

func (w *wasmPlugin) newCall() *wasmCall {
	if c, ok := w.calls.Get().(*wasmCall); ok {
		return c
	}
	return &wasmCall{buf: make([]byte, 0, 512)}
}

func (w *wasmPlugin) call(ctx context.Context, op string, m *envelope.Message) (*host.Response, error) {
	c := w.newCall()
	c.buf = envelope.Append(c.buf[:0], m)
	c.req = host.Request{Endpoint: op, Body: c.buf}
	res, err := w.m.Call(ctx, &c.req)
	c.req = host.Request{}
	if cap(c.buf) <= 1<<20 {
		w.calls.Put(c)
	}
	if err != nil {
		return nil, errorFrom(op, err)
	}
	return res, nil
}

func (w *wasmPlugin) Encode(ctx context.Context, dst []byte, m *envelope.Message) ([]byte, error) {
	res, err := w.call(ctx, OpEncode, m)
	if err != nil {
		return dst, err
	}
	return append(dst, res.Body...), nil
}

func (w *wasmPlugin) Decode(ctx context.Context, dst []byte, in, out *envelope.Message) ([]byte, error) {
	res, err := w.call(ctx, OpDecode, in)
	if err != nil {
		return dst, err
	}
	// res.Body is a copy the host made for this call alone, so out may point into it.
	if err := envelope.Unmarshal(out, res.Body); err != nil {
		return dst, &abi.Error{Code: http.StatusInternalServerError, Detail: fmt.Sprintf("codec decode: the module answered with %v", err), Status: abi.StatusText(http.StatusInternalServerError)}
	}
	return dst, nil
}

// Loader loads a Wasm module. *host.Runtime satisfies it.
type Loader interface {
	Load(ctx context.Context, path string, opts host.ModuleOptions) (*host.Module, error)
}

// Modes of a content type's codec.
const (
	// ModeAuto uses the Wasm twin when the plugin folder has it, else the native one.
	ModeAuto = "auto"
	// ModeNative uses the codec compiled into the host.
	ModeNative = "native"
	// ModeWasm uses the module from the plugin folder; a missing module is an error.
	ModeWasm = "wasm"
)

// Setup says how to build the codec registry.
type Setup struct {
	// Dir is the plugin folder: a stock codec's module is Dir/<name>.wasm.
	Dir string
	// Mode is the default mode: ModeAuto (when empty), ModeNative or ModeWasm.
	Mode string
	// Types overrides Mode per content type.
	Types map[string]string
	// PoolSize bounds each codec module's warm instances; zero means the host default.
	PoolSize int
}

// Loaded is a registry and the modules it loaded, which the caller closes when done.
type Loaded struct {
	Registry *Registry
	Modules  []*host.Module
	// Modes records the mode chosen for each content type: "native" or "wasm".
	Modes map[string]string
}

// Load builds the registry of stock codecs, loading each Wasm twin that a content type's
// mode asks for (once, however many content types share it). Codec modules run without
// deadline interrupts: they are bounded functions of their input, and interrupts slow guest
// loops several times over. On error, what was loaded is closed.
func Load(ctx context.Context, l Loader, s Setup) (*Loaded, error) {
	out := &Loaded{Registry: NewRegistry(), Modes: map[string]string{}}
	known := map[string]bool{}
	for _, st := range StockCodecs() {
		for _, ct := range st.ContentTypes {
			known[ct] = true
		}
	}
	for ct, mode := range s.Types {
		if !known[MediaType(ct)] {
			return nil, fmt.Errorf("codec.types: no stock codec serves %q", ct)
		}
		if err := checkMode(mode); err != nil {
			return nil, fmt.Errorf("codec.types %q: %w", ct, err)
		}
	}
	if err := checkMode(s.Mode); err != nil {
		return nil, fmt.Errorf("codec.mode: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			for _, m := range out.Modules {
				_ = m.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for _, st := range StockCodecs() {
		path := filepath.Join(s.Dir, st.Name+".wasm")
		_, statErr := os.Stat(path)
		var wasm *Codec
		native := New(st.Name, st.Native)
		for _, ct := range st.ContentTypes {
			mode := s.Mode
			for k, v := range s.Types {
				if MediaType(k) == ct {
					mode = v
				}
			}
			useWasm := mode == ModeWasm || ((mode == ModeAuto || mode == "") && statErr == nil)
			if !useWasm {
				out.Registry.Register(ct, native)
				out.Modes[ct] = ModeNative
				continue
			}
			if wasm == nil {
				m, err := l.Load(ctx, path, host.ModuleOptions{PoolSize: s.PoolSize})
				if err != nil {
					return nil, fmt.Errorf("codec %s for %s: %w", st.Name, ct, err)
				}
				out.Modules = append(out.Modules, m)
				if err := checkDescriptor(m.Descriptor()); err != nil {
					return nil, fmt.Errorf("codec %s: module %s: %w", st.Name, path, err)
				}
				wasm = New(st.Name, NewWasm(m))
			}
			out.Registry.Register(ct, wasm)
			out.Modes[ct] = ModeWasm
		}
	}
	ok = true
	return out, nil
}

// Close closes the loaded modules.
func (l *Loaded) Close(ctx context.Context) error {
	var errs []error
	for _, m := range l.Modules {
		errs = append(errs, m.Close(ctx))
	}
	l.Modules = nil
	return errors.Join(errs...)
}

// checkDescriptor refuses a module that is not a codec or lacks an operation.
func checkDescriptor(d abi.Descriptor) error {
	if d.Kind != abi.KindCodec {
		return fmt.Errorf("it is a %s module, not a codec", d.Kind)
	}
	for _, op := range []string{OpEncode, OpDecode} {
		if !slices.ContainsFunc(d.Endpoints, func(e abi.Endpoint) bool { return e.Name == op }) {
			return fmt.Errorf("the codec does not serve the %q operation", op)
		}
	}
	return nil
}

func checkMode(mode string) error {
	switch mode {
	case "", ModeAuto, ModeNative, ModeWasm:
		return nil
	}
	return fmt.Errorf("unknown mode %q (known: auto, native, wasm)", mode)
}
