package selector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// ConfigOptions are the [selector.options] table.
type ConfigOptions struct {
	// Strategy is "random" (default) or "roundrobin". A selector other than the stock one
	// may choose its own way and ignore it.
	Strategy string `toml:"strategy"`
	// MarkPeriod is how long a node whose call failed is skipped (default 60s).
	MarkPeriod config.Duration `toml:"mark_period"`
}

// DecodeOptions decodes the [selector.options] table strictly: an unknown key or a bad value
// is an error naming it.
func DecodeOptions(opts map[string]any) (ConfigOptions, error) {
	var o ConfigOptions
	if err := config.DecodeOptions("selector.options", opts, &o); err != nil {
		return o, err
	}
	if _, err := ParseStrategy(o.Strategy); err != nil {
		return o, fmt.Errorf("selector.options.strategy: %w", err)
	}
	return o, nil
}

// Setup is what Load builds a Selector from.
type Setup struct {
	// Config is the [selector] table, its defaults filled (module, mode, path).
	Config config.Selector
	// Catalogue holds the native twins; nil means none.
	Catalogue *component.Catalogue
	// Loader loads the module when the choice is Wasm; it is not used otherwise.
	Loader wasmcomponent.Loader
	// Logger receives the line saying which twin runs; nil discards it.
	Logger *slog.Logger
	// Strategy, when set, overrides [selector.options] strategy (a command-line flag).
	Strategy string
	// Seed makes random choices repeatable; zero seeds at random.
	Seed uint64
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Load builds the Selector the [selector] table describes: it decodes the options, chooses
// the native twin or the module with catalogue.Choose, logs the choice and, for Wasm, loads
// the module through wasmcomponent with the configured module name, so that a module
// declaring another name is refused. Close releases the module.
func Load(ctx context.Context, s Setup) (*Selector, error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := s.Config
	opts, err := DecodeOptions(cfg.Options)
	if err != nil {
		return nil, err
	}
	if s.Strategy != "" {
		opts.Strategy = s.Strategy
	}
	mode, err := component.ParseMode(cfg.Mode)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	ch, err := s.Catalogue.Choose(component.KindSelector, cfg.Module, mode, cfg.Path)
	if err != nil {
		return nil, err
	}
	logger.Info("component", ch.LogArgs()...)
	sel := Options{Strategy: opts.Strategy, MarkPeriod: opts.MarkPeriod.D(), Seed: s.Seed, Now: s.Now}
	var closer func(context.Context) error
	var m *wasmcomponent.Module
	spec := wasmcomponent.Spec{
		Kind: component.KindSelector, Name: cfg.Module, Path: cfg.Path,
		Ops:     []string{component.OpSelect},
		Options: host.ModuleOptions{PoolSize: cfg.PoolSize, StartupTrusted: s.Catalogue.StockBuild(component.KindSelector, cfg.Module)},
	}
	switch ch.Mode {
	case component.ModeNative:
		twin, ok := ch.Twin.Native.(component.SelectorTwin)
		if !ok || twin.New == nil {
			return nil, fmt.Errorf("selector %q: the native twin is a %T, not a component.SelectorTwin", cfg.Module, ch.Twin.Native)
		}
		sel.Selector = twin.New()
	default:
		if s.Loader == nil {
			return nil, fmt.Errorf("selector %q: no loader for the module %s", cfg.Module, ch.Path)
		}
		spec.Path = ch.Path
		if m, err = wasmcomponent.Load(ctx, s.Loader, spec); err != nil {
			return nil, err
		}
		sel.Selector, closer = NewWasm(m), m.Close
	}
	// In mode auto, with a native twin to go back to, the service may change the selector
	// live between the twin and a module as the file changes (Auto).
	var auto *wasmcomponent.Auto
	if t, ok := s.Catalogue.Twin(component.KindSelector, cfg.Module); ok && mode == component.ModeAuto {
		if twin, ok := t.Native.(component.SelectorTwin); ok && twin.New != nil {
			sw := wasmcomponent.NewSwitch(sel.Selector, m)
			a := wasmcomponent.NewAuto(spec, sw, twin.New(), func(m *wasmcomponent.Module) (component.Selector, error) { return NewWasm(m), nil })
			auto, sel.Selector = &a, switching{sw}
			closer = func(context.Context) error { sw.Close(); return nil }
		}
	}
	out, err := New(sel)
	if err != nil {
		if closer != nil {
			_ = closer(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	out.closer, out.auto = closer, auto
	return out, nil
}

// Auto returns the selector's live switch between its native twin and its module, or nil
// when it is not in mode auto or has no native twin.
func (s *Selector) Auto() *wasmcomponent.Auto { return s.auto }

// switching is a selector whose calls run on whatever its Switch holds now.
type switching struct {
	sw *wasmcomponent.Switch[component.Selector]
}

// ChoosesAmongPassing answers for the selector the switch holds now.
func (s switching) ChoosesAmongPassing() bool {
	h := s.sw.Acquire()
	if h == nil {
		return false
	}
	defer h.Release()
	ap, ok := h.Value().(component.AmongPassing)
	return ok && ap.ChoosesAmongPassing()
}

func (s switching) Select(ctx context.Context, in *component.Selection) (int, error) {
	h := s.sw.Acquire()
	if h == nil {
		return -1, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Select(ctx, in)
}
