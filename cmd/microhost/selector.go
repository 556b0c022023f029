package main

import (
	"context"
	"flag"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/selector"
)

// selectorFlags are call's flags choosing the selector component.
type selectorFlags struct {
	name, mode string
}

func (s *selectorFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&s.name, "selector", "", "selector component: its module NAME.wasm in the plugin folder, or its native twin (default "+config.DefaultSelectorModule+") [$MICROHOST_SELECTOR]")
	fs.StringVar(&s.mode, "selector-mode", "", "run the selector as its native twin, its wasm module, or auto (default: native when the module file is absent or the stock build) [$MICROHOST_SELECTOR_MODE]")
}

// resolve applies the environment under the flags and checks them.
func (s *selectorFlags) resolve(getenv env) error {
	// The environment is read where a service's is: config.Override.
	var c config.Config
	c.Override(getenv, map[string]string{"selector": s.name, "selector_mode": s.mode})
	s.name, s.mode = c.Selector.Module, c.Selector.Mode
	if s.name == "" {
		s.name = config.DefaultSelectorModule
	}
	if _, err := component.ParseMode(s.mode); err != nil {
		return usageError("--selector-mode: %v", err)
	}
	return nil
}

// open builds the selector the flags name, as a service builds its [selector]: the module
// from the plugin folder, chosen against the stock catalogue. A runtime is started only when
// the choice is Wasm; close releases the selector and the runtime.
func (s *selectorFlags) open(ctx context.Context, strategy string, getenv env) (sel *selector.Selector, loader *lazyRuntime, err error) {
	cat, err := stockCatalogue()
	if err != nil {
		return nil, nil, err
	}
	loader = &lazyRuntime{cacheDir: getenv("MICROHOST_CACHE_DIR")}
	cfg := config.Selector{Component: config.Component{
		Module: s.name, Mode: s.mode, Path: filepath.Join(defaultPluginDir(getenv), s.name+".wasm"),
	}}
	sel, err = selector.Load(ctx, selector.Setup{Config: cfg, Catalogue: cat, Loader: loader, Strategy: strategy,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = loader.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return sel, loader, nil
}

// closeSelector releases what open returned.
func closeSelector(ctx context.Context, sel *selector.Selector, loader *lazyRuntime) {
	stop := context.WithoutCancel(ctx)
	_ = sel.Close(stop)
	_ = loader.Close(stop)
}

// lazyRuntime is a module loader that starts its runtime on first use, so that a command
// running only native twins never starts one.
type lazyRuntime struct {
	cacheDir string
	mu       sync.Mutex
	rt       *host.Runtime
}

// Load implements wasmcomponent.Loader.
func (l *lazyRuntime) Load(ctx context.Context, path string, opts host.ModuleOptions) (*host.Module, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rt == nil {
		rt, err := host.NewRuntime(ctx, host.Options{CacheDir: l.cacheDir})
		if err != nil {
			return nil, err
		}
		l.rt = rt
	}
	return l.rt.Load(ctx, path, opts)
}

// Close closes the runtime, if it was started.
func (l *lazyRuntime) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rt == nil {
		return nil
	}
	err := l.rt.Close(ctx)
	l.rt = nil
	return err
}

// started reports whether the runtime was started.
func (l *lazyRuntime) started() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rt != nil
}
