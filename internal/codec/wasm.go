package codec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// Operation names a codec module serves (abi/codec.md).
const (
	OpEncode = component.CodecEncode
	OpDecode = component.CodecDecode
)

// NewWasm returns a Plugin that calls the codec module m: each operation sends the message as
// a microhost.abi.v1.Message envelope and reads the answer.
func NewWasm(m *wasmcomponent.Module) Plugin {
	return &wasmPlugin{m: m}
}

type wasmPlugin struct {
	m *wasmcomponent.Module
	// bufs holds envelope buffers; a module call copies its input and keeps no reference
	// to it, so a buffer can be reused as soon as the call returns.
	bufs sync.Pool
}

// envBuf is a reusable envelope buffer.
type envBuf struct{ b []byte }

// call runs op on the envelope of m and returns its output appended to dst.
func (w *wasmPlugin) call(ctx context.Context, op string, m *envelope.Message, dst []byte) ([]byte, error) {
	eb, ok := w.bufs.Get().(*envBuf)
	if !ok {
		eb = &envBuf{b: make([]byte, 0, 512)}
	}
	eb.b = envelope.Append(eb.b[:0], m)
	out, err := w.m.CallAppend(ctx, op, eb.b, dst)
	if cap(eb.b) <= 1<<20 {
		w.bufs.Put(eb)
	}
	if err != nil {
		return dst, errorFrom(op, err)
	}
	return out, nil
}

// Encode appends the wire form to dst: the host copies the module's output there.
func (w *wasmPlugin) Encode(ctx context.Context, dst []byte, m *envelope.Message) ([]byte, error) {
	return w.call(ctx, OpEncode, m, dst)
}

func (w *wasmPlugin) Decode(ctx context.Context, dst []byte, in, out *envelope.Message) ([]byte, error) {
	res, err := w.call(ctx, OpDecode, in, nil)
	if err != nil {
		return dst, err
	}
	// res is a copy the host made for this call alone, so out may point into it.
	if err := envelope.Unmarshal(out, res); err != nil {
		return dst, &abi.Error{Code: http.StatusInternalServerError, Detail: fmt.Sprintf("codec decode: the module answered with %v", err), Status: abi.StatusText(http.StatusInternalServerError)}
	}
	return dst, nil
}

// Modes of a content type's codec: the component model's modes.
const (
	// ModeAuto runs the native twin when the module file is absent or is the stock build,
	// the module otherwise.
	ModeAuto = string(component.ModeAuto)
	// ModeNative uses the codec compiled into the host.
	ModeNative = string(component.ModeNative)
	// ModeWasm uses the module from the plugin folder; a missing module is an error.
	ModeWasm = string(component.ModeWasm)
)

// Setup says how to build the codec registry.
type Setup struct {
	// Modules names the codec modules, in order (a content type two of them serve goes to
	// the later one). Empty means every codec twin in Catalogue, by name.
	Modules []string
	// Dir is the plugin folder: module NAME is Dir/NAME.wasm.
	Dir string
	// Mode is the default mode: ModeAuto (when empty), ModeNative or ModeWasm.
	Mode string
	// Types overrides Mode per content type.
	Types map[string]string
	// PoolSize bounds each codec module's warm instances; zero means the host default.
	PoolSize int
	// Catalogue holds the native twins; nil means none.
	Catalogue *component.Catalogue
	// Logger receives one "component" line per choice; nil discards it.
	Logger *slog.Logger
}

// Loaded is a registry and the modules it loaded, which the caller closes when done.
type Loaded struct {
	Registry *Registry
	Modules  []*wasmcomponent.Module
	// Modes records the mode chosen for each content type: "native" or "wasm".
	Modes map[string]string
	// Autos are the codecs in mode auto, which the service switches live between their
	// native twin and their module as their file changes.
	Autos []wasmcomponent.Auto
}

// Load builds the codec registry: for each module of s.Modules it chooses the twin with
// Catalogue.Choose — once per distinct mode among its content types, as s.Mode and s.Types
// give them — logs the choice and loads a Wasm twin through wasmcomponent.Load, whose
// descriptor must name the module (so jsonrpc-codec.wasm copied over json-codec.wasm is
// refused). A native twin serves the content types its CodecTwin lists, a module those its
// descriptor declares. Codec modules run without deadline interrupts: they are bounded
// functions of their input, and interrupts slow guest loops several times over. On error,
// what was loaded is closed.
func Load(ctx context.Context, l wasmcomponent.Loader, s Setup) (*Loaded, error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	defMode, err := component.ParseMode(s.Mode)
	if err != nil {
		return nil, fmt.Errorf("codec.mode: %w", err)
	}
	types := map[string]component.Mode{}
	for ct, mode := range s.Types {
		m, err := component.ParseMode(mode)
		if err != nil {
			return nil, fmt.Errorf("codec.types %q: %w", ct, err)
		}
		types[MediaType(ct)] = m
	}
	modules := s.Modules
	if len(modules) == 0 {
		modules = s.Catalogue.Names(component.KindCodec)
	}
	out := &Loaded{Registry: NewRegistry(), Modes: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			_ = out.Close(context.WithoutCancel(ctx))
		}
	}()
	for _, name := range modules {
		if err := out.add(ctx, l, s, logger, name, defMode, types); err != nil {
			return nil, err
		}
	}
	for ct := range types {
		if _, served := out.Registry.Lookup(ct); !served {
			return nil, fmt.Errorf("codec.types: no codec module serves %q (served: %v)", ct, out.Registry.ContentTypes())
		}
	}
	ok = true
	return out, nil
}

// add registers the codec module name's content types, each with the twin its mode chooses.
func (out *Loaded) add(ctx context.Context, l wasmcomponent.Loader, s Setup, logger *slog.Logger, name string, defMode component.Mode, types map[string]component.Mode) error {
	path := filepath.Join(s.Dir, name+".wasm")
	modeOf := func(ct string) component.Mode {
		if m, ok := types[ct]; ok {
			return m
		}
		return defMode
	}
	// The content types known before loading are the native twin's.
	var twinTypes []string
	if t, ok := s.Catalogue.Twin(component.KindCodec, name); ok {
		if ct, ok := t.Native.(component.CodecTwin); ok {
			twinTypes = ct.ContentTypes
		}
	}
	// One choice per distinct mode among the module's content types.
	var modes []component.Mode
	for _, ct := range twinTypes {
		if m := modeOf(MediaType(ct)); !slices.Contains(modes, m) {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		modes = []component.Mode{defMode}
	}
	var wasm *Codec // the module, once loaded
	var wasmTypes []string
	for _, mode := range modes {
		ch, err := s.Catalogue.Choose(component.KindCodec, name, mode, path)
		if err != nil {
			return fmt.Errorf("codec: %w", err)
		}
		logger.Info("component", ch.LogArgs()...)
		var c *Codec
		var served []string
		if ch.Mode == component.ModeNative {
			twin, ok := ch.Twin.Native.(component.CodecTwin)
			if !ok || twin.Codec == nil {
				return fmt.Errorf("codec %q: its native twin is a %T, not a component.CodecTwin", name, ch.Twin.Native)
			}
			c, served = New(name, twin.Codec), twin.ContentTypes
		} else if wasm != nil {
			c, served = wasm, wasmTypes
		} else {
			m, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{
				Kind: component.KindCodec, Name: name, Path: ch.Path, Ops: []string{OpEncode, OpDecode},
				Options: host.ModuleOptions{PoolSize: s.PoolSize, StartupTrusted: s.Catalogue.StockBuild(component.KindCodec, name)},
			})
			if err != nil {
				return err
			}
			out.Modules = append(out.Modules, m)
			served = component.CodecTypesOf(m.Descriptor())
			if len(served) == 0 {
				served = twinTypes
			}
			if len(served) == 0 {
				return fmt.Errorf("codec %q: module %s declares no content types (abi/codec.md, \"Content types\")", name, ch.Path)
			}
			c = New(name, NewWasm(m))
			wasm, wasmTypes = c, served
		}
		if mode == component.ModeAuto && len(modes) == 1 && len(twinTypes) > 0 {
			c = out.switchable(name, c, ch, served, wasmcomponent.Spec{
				Kind: component.KindCodec, Name: name, Path: path, Ops: []string{OpEncode, OpDecode},
				Options: host.ModuleOptions{PoolSize: s.PoolSize, StartupTrusted: s.Catalogue.StockBuild(component.KindCodec, name)},
			}, s.Catalogue)
		}
		for _, ct := range served {
			ct = MediaType(ct)
			if m, ok := types[ct]; ok && len(twinTypes) == 0 && m != mode {
				return fmt.Errorf("codec.types %q: codec %q has no native twin, so it runs in codec.mode %q", ct, name, mode)
			}
			if len(modes) > 1 && modeOf(ct) != mode {
				continue
			}
			out.Registry.Register(ct, c)
			out.Modes[ct] = string(ch.Mode)
		}
	}
	return nil
}

// switchable wraps c, a codec in mode auto, so that the service can change it live between
// its native twin and its module (Autos); served are the content types it is registered for,
// which a module taking over must still serve.
func (out *Loaded) switchable(name string, c *Codec, ch component.Choice, served []string, spec wasmcomponent.Spec, cat *component.Catalogue) *Codec {
	t, _ := cat.Twin(component.KindCodec, name)
	twin, _ := t.Native.(component.CodecTwin)
	var m *wasmcomponent.Module
	if ch.Mode != component.ModeNative && len(out.Modules) > 0 {
		m = out.Modules[len(out.Modules)-1]
	}
	sw := wasmcomponent.NewSwitch(c.p, m)
	out.Autos = append(out.Autos, wasmcomponent.NewAuto(spec, sw, twin.Codec, func(m *wasmcomponent.Module) (Plugin, error) {
		declared := component.CodecTypesOf(m.Descriptor())
		for _, ct := range served {
			if len(declared) > 0 && !slices.ContainsFunc(declared, func(d string) bool { return MediaType(d) == MediaType(ct) }) {
				return nil, fmt.Errorf("codec %q: module %s does not serve %s, which the service serves (it declares %v)", name, m.Path(), ct, declared)
			}
		}
		return NewWasm(m), nil
	}))
	return New(name, switching{sw})
}

// switching is a codec whose calls run on whatever its Switch holds now.
type switching struct{ sw *wasmcomponent.Switch[Plugin] }

func (s switching) Encode(ctx context.Context, dst []byte, m *envelope.Message) ([]byte, error) {
	h := s.sw.Acquire()
	if h == nil {
		return nil, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Encode(ctx, dst, m)
}

func (s switching) Decode(ctx context.Context, dst []byte, in, out *envelope.Message) ([]byte, error) {
	h := s.sw.Acquire()
	if h == nil {
		return nil, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Decode(ctx, dst, in, out)
}

// Close closes the loaded modules.
func (l *Loaded) Close(ctx context.Context) error {
	var errs []error
	for _, m := range l.Modules {
		errs = append(errs, m.Close(ctx))
	}
	for _, a := range l.Autos {
		a.Close()
	}
	l.Modules, l.Autos = nil, nil
	return errors.Join(errs...)
}
