// Package hosttest holds the set-up shared by tests of code that runs plugin modules: build a
// plugin from source once per test binary, and load it on a runtime of its own, whose
// compiled modules the test binary may share (host.Compilations).
package hosttest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
)

// Main builds the Go guest package pkg (such as "./plugins/http-transport/wasm") into a
// temporary folder, stores the module's path in *path, runs the tests and removes the
// folder. It returns the exit code for os.Exit.
func Main(m *testing.M, pkg string, path *string) int {
	dir, err := os.MkdirTemp("", "microhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *path, err = guestbuild.Go(context.Background(), pkg, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Runtime returns a runtime backed by the shared on-disk compilation cache, whose compiled
// modules shared holds (nil: its own), closed when tb ends.
func Runtime(tb testing.TB, shared *host.Compilations) *host.Runtime {
	tb.Helper()
	rt, err := host.NewRuntime(context.Background(), host.Options{CacheDir: host.DefaultCacheDir(), Compilations: shared})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// Load loads the module at path on a runtime of its own (see Runtime), and closes it when tb
// ends.
func Load(tb testing.TB, shared *host.Compilations, path string, opts host.ModuleOptions) *host.Module {
	tb.Helper()
	ctx := context.Background()
	m, err := Runtime(tb, shared).Load(ctx, path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close(ctx) })
	return m
}
