package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// bigModule is the size above which the start of a module's load is reported at info level
// rather than debug: a file this large compiles for a noticeable time.
const bigModule = 1 << 20

// progressLoader loads modules through rt, logging each load: before, with the file's size
// (at info level when the module is big), and after, at info level, with the time it took and
// whether its code came from the compilation cache or was compiled, so that `microhost run`
// is not silent while it compiles.
type progressLoader struct {
	rt     *host.Runtime
	logger *slog.Logger
}

var _ wasmcomponent.Loader = progressLoader{}

// Load implements wasmcomponent.Loader.
func (l progressLoader) Load(ctx context.Context, path string, opts host.ModuleOptions) (*host.Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load module: %w", err)
	}
	return l.LoadBytes(ctx, path, wasm, opts)
}

// LoadBytes loads the module whose bytes, read from path, are wasm, logging it as Load does.
func (l progressLoader) LoadBytes(ctx context.Context, path string, wasm []byte, opts host.ModuleOptions) (*host.Module, error) {
	level := slog.LevelDebug
	size := int64(len(wasm))
	if size >= bigModule {
		level = slog.LevelInfo
	}
	l.logger.Log(ctx, level, "loading module", "path", path, "size", megabytes(size))
	start := time.Now()
	m, err := l.rt.LoadBytes(ctx, path, wasm, opts)
	took := time.Since(start)
	if err != nil {
		return nil, err
	}
	// Each module's load is reported at info: where its code came from and how long it took.
	from := "compiled"
	if m.CacheHit() {
		from = "cache"
	}
	l.logger.Log(ctx, slog.LevelInfo, "loaded module", "path", path, "took", took.Round(time.Millisecond), "code", from)
	return m, nil
}

// megabytes formats n bytes as "3.1 MB".
func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
