package codec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/hosttest"
	"github.com/microhost/microhost/plugins/standard"
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

// stockCatalogue returns the stock catalogue, with no stock digests recorded.
func stockCatalogue(tb testing.TB) *component.Catalogue {
	tb.Helper()
	cat, err := standard.Catalogue("")
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

// stockTwin is one stock codec's native twin.
type stockTwin struct {
	Name string
	component.CodecTwin
}

// stockTwins lists the stock codecs' native twins, by name.
func stockTwins(tb testing.TB) []stockTwin {
	tb.Helper()
	cat := stockCatalogue(tb)
	var out []stockTwin
	for _, name := range cat.Names(component.KindCodec) {
		t, _ := cat.Twin(component.KindCodec, name)
		out = append(out, stockTwin{Name: name, CodecTwin: t.Native.(component.CodecTwin)})
	}
	return out
}

// buildStock builds every stock codec's module from source into dir as <name>.wasm.
func buildStock(ctx context.Context, dir, work string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cat, err := standard.Catalogue("")
	if err != nil {
		return err
	}
	for _, name := range cat.Names(component.KindCodec) {
		out, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", filepath.Join(work, name))
		if err != nil {
			return err
		}
		if err := os.Rename(out, filepath.Join(dir, name+".wasm")); err != nil {
			return err
		}
	}
	return nil
}

// testCompilations holds the compiled modules of the tests' runtimes, shared by them all,
// and keeps those no module uses: the tests load the same modules again and again, each load
// from the compilation cache a few tenths of a CPU-second or more under the race detector.
var testCompilations = host.NewCompilations(8)

// loadWasm loads every stock codec as Wasm.
func loadWasm(tb testing.TB) *Loaded {
	tb.Helper()
	ctx := context.Background()
	l, err := Load(ctx, hosttest.Runtime(tb, testCompilations), Setup{Dir: pluginDir, Mode: ModeWasm, PoolSize: 2, Catalogue: stockCatalogue(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close(ctx) })
	return l
}
