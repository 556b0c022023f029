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

// Thresholds above which loading a module is reported at info level rather than debug: a
// file this large compiles for a noticeable time, and a load this slow is worth a line.
const (
	bigModule = 1 << 20
	slowLoad  = 500 * time.Millisecond
)

// progressLoader loads modules through rt, logging each load: before, with the file's size,
// and after, with the time it took, at info level when the module is big or the load slow,
// so that `microhost run` is not silent while it compiles.
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
	if took >= slowLoad {
		level = slog.LevelInfo
	}
	l.logger.Log(ctx, level, "loaded module", "path", path, "took", took.Round(time.Millisecond))
	return m, nil
}

// megabytes formats n bytes as "3.1 MB".
func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
