package codec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/internal/guestbuild"
)

// pluginDir holds the four codec modules, built from source as <name>.wasm; greeterWasm is a
// handler module.
var pluginDir, greeterWasm string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-codec-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = filepath.Join(dir, "plugins")
	if err := buildStock(context.Background(), pluginDir, filepath.Join(dir, "build")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if greeterWasm, err = guestbuild.Go(context.Background(), "./handlers/greeter", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildStock builds every stock codec's module from source into dir as <name>.wasm.
func buildStock(ctx context.Context, dir, work string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range StockCodecs() {
		out, err := guestbuild.Go(ctx, "./plugins/"+s.Name+"/wasm", filepath.Join(work, s.Name))
		if err != nil {
			return err
		}
		if err := os.Rename(out, filepath.Join(dir, s.Name+".wasm")); err != nil {
			return err
		}
	}
	return nil
}

// loadWasm loads every stock codec as Wasm.
func loadWasm(tb testing.TB) *Loaded {
	tb.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := Load(ctx, rt, Setup{Dir: pluginDir, Mode: ModeWasm, PoolSize: 2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = l.Close(ctx)
		_ = rt.Close(ctx)
	})
	return l
}
