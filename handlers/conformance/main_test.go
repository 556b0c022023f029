//go:build !wasip1

package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
)

// language is one greeter build: its name and the .wasm built from source, or why not.
type language struct {
	name string
	wasm string
	err  error
}

// languages are built once, in TestMain, in this order.
var languages []*language

// buildDir holds the built modules (and the ABI example's) for the package's tests.
var buildDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	ctx := context.Background()
	builds := []struct {
		name  string
		build func() (string, error)
	}{
		{"go", func() (string, error) { return guestbuild.Go(ctx, "./handlers/greeter", dir) }},
		{"c", func() (string, error) { return guestbuild.C(ctx, "./handlers/greeter-c", dir) }},
		{"assemblyscript", func() (string, error) { return guestbuild.AssemblyScript(ctx, "./handlers/greeter-as", dir) }},
		{"wat", func() (string, error) { return guestbuild.WAT(ctx, "./handlers/greeter-wat", dir) }},
		{"rust", func() (string, error) { return guestbuild.Rust(ctx, "./handlers/greeter-rust", dir) }},
	}
	for _, b := range builds {
		wasm, err := b.build()
		languages = append(languages, &language{name: b.name, wasm: wasm, err: err})
	}
	return m.Run()
}

// requireToolchain stops t when a build needs a compiler that is not installed: a failure
// under CI (where `make deps` installs everything), a skip elsewhere. Any other build error
// fails the test.
func requireToolchain(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, guestbuild.ErrToolMissing) && os.Getenv("CI") == "":
		t.Skip(err)
	case errors.Is(err, guestbuild.ErrToolMissing):
		t.Fatalf("%v; CI is set, so a missing toolchain fails the test instead of skipping it", err)
	default:
		t.Fatal(err)
	}
}

// load loads every language's greeter, requiring its toolchain.
func load(t testing.TB) map[string]*host.Module {
	t.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	mods := map[string]*host.Module{}
	for _, l := range languages {
		requireToolchain(t, l.err)
		m, err := rt.Load(ctx, l.wasm, host.ModuleOptions{PoolSize: 1})
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		t.Cleanup(func() { _ = m.Close(ctx) })
		mods[l.name] = m
	}
	return mods
}
