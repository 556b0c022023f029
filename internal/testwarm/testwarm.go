// Package testwarm prepares the modules the test suite loads, before `make test` runs it:
// its TestWarm builds every Go guest package of the repository (the handlers, the stock
// plugins' wasm packages and the guests under testdata folders) through the test build
// cache, and compiles each into the default compilation cache, with and without deadline
// checks; and the variants of the stock plugins that the swap tests load.
//
// The suite runs under the race detector, which slows wazero's compiler about sixfold (a
// 3.5 MB Go module: 12 s instead of 2 s), and its packages would each compile the same new
// modules at once. Done here first, without the detector and once per module, a run after a
// change to the SDK or a stock plugin starts with warm caches. With warm caches it only
// builds the guests from the build cache and finds the compiled code vouched for by the
// stamp of its last run (stamp.go).
//
// It is a test of a package that is not main, as nearly all of the suite's are, and not a
// command: wazero files its cache entries under its own version, which it reads from the
// binary's build information, and a test binary of a package other than main carries none
// (its entries go under "dev"), where a command, or a test of package main, carries the
// module's (v1.12.0). Compiled here, the code lands where the suite looks for it.
package testwarm

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
)

// run builds and compiles every guest package, and prints how many and how long.
func run(ctx context.Context) error {
	start := time.Now()
	root, err := guestbuild.ModuleRoot(".")
	if err != nil {
		return err
	}
	pkgs, err := guestPackages(root)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		return fmt.Errorf("no guest packages under %s", root)
	}
	out, err := os.MkdirTemp("", "microhost-testwarm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	// One build first, alone: it compiles most of the standard library and the SDK for
	// wasip1, which builds started together would each compile (the build cache shares
	// only finished work). The Consul registry's module imports the most of it. Its errors
	// come again from build, below.
	first := pkgs[0]
	if slices.Contains(pkgs, firstBuild) {
		first = firstBuild
	}
	_, _ = guestbuild.Go(ctx, first, filepath.Join(out, "first"))

	// Build every guest (from the build cache when its sources did not change), then compile
	// what the stamp of the last run does not vouch for.
	var mu sync.Mutex
	var errs []error
	var all []guest
	each(pkgs, func(pkg string) {
		gs, err := build(ctx, pkg, filepath.Join(out, strings.ReplaceAll(pkg, "/", "_")))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		all = append(all, gs...)
	})
	stampFile := filepath.Join(guestbuild.CacheDir(), "testwarm.stamp")
	cacheDir := host.DefaultCacheDir()
	want, build := wanted(all), thisBuild()
	if len(errs) == 0 && stampHolds(stampFile, build, want, cacheDir) {
		fmt.Printf("testwarm: %d guest modules built; their compiled code is in the cache, as last run (%s)\n",
			len(pkgs), time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	each(all, func(g guest) {
		for _, interrupt := range []bool{true, false} {
			m, err := rt.LoadBytes(ctx, g.path, g.wasm, host.ModuleOptions{PoolSize: 1, InterruptOnDeadline: interrupt})
			if err != nil {
				// The code is compiled, and cached, before the module's checks or start-up
				// can refuse it: a guest the tests load only to see it refused is warm too.
				continue
			}
			_ = m.Close(ctx)
		}
	})
	if len(errs) == 0 {
		// Failing to write the stamp only costs the next run the compile check.
		_ = writeStamp(stampFile, build, want, cacheDir)
	}
	fmt.Printf("testwarm: %d guest modules built and compiled in %s\n",
		len(pkgs)-len(errs), time.Since(start).Round(100*time.Millisecond))
	// A package that does not build is the tests' to report, with their own context.
	for _, err := range errs {
		fmt.Fprintln(os.Stderr, "testwarm: skipped:", err)
	}
	return nil
}

// each calls fn for every item, on as many goroutines as there are processors.
func each[T any](items []T, fn func(T)) {
	work := make(chan T)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for it := range work {
				fn(it)
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
}

// firstBuild is the guest package testwarm builds before the others.
const firstBuild = "./plugins/consul-registry/wasm"

// guest is one module the suite loads: a guest package's build, or a variant of a stock
// plugin's.
type guest struct {
	path string
	wasm []byte
}

// build builds pkg into dir and returns its module and, for a stock plugin, the variants the
// swap tests load (guestbuild.Variant).
func build(ctx context.Context, pkg, dir string) ([]guest, error) {
	path, err := guestbuild.Go(ctx, pkg, dir)
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	gs := []guest{{path: path, wasm: wasm}}
	if isStockPlugin(pkg) {
		for n := 1; n <= guestbuild.SwapVariants; n++ {
			gs = append(gs, guest{path: path, wasm: guestbuild.Variant(wasm, n)})
		}
	}
	return gs, nil
}

// isStockPlugin reports whether pkg is a stock plugin's module, ./plugins/<name>/wasm.
func isStockPlugin(pkg string) bool {
	rest, ok := strings.CutPrefix(pkg, "./plugins/")
	name, ok2 := strings.CutSuffix(rest, "/wasm")
	return ok && ok2 && name != "" && !strings.Contains(name, "/")
}

// guestPackages lists, relative to root as "./dir", the Go guest packages: the folders of
// package main with a file that imports a guest SDK (abi/guest, or a plugin kind's, such as
// plugins/codecguest), outside hidden folders, node_modules and bin.
// Unlike `go list ./...`, it looks inside testdata folders, where tests keep their guests.
func guestPackages(root string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil || f.Name.Name != "main" || !importsAGuestSDK(f) {
			return nil // not a guest, or not Go that builds: the tests' to report
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := "./" + filepath.ToSlash(rel)
		if !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("list the guest packages under %s", root), err)
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

// importsAGuestSDK reports whether f imports one of the repository's guest SDKs, the
// packages whose names end in "guest" (abi/guest, plugins/codecguest…).
func importsAGuestSDK(f *ast.File) bool {
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err == nil && strings.HasPrefix(path, "github.com/microhost/microhost/") && strings.HasSuffix(path, "guest") {
			return true
		}
	}
	return false
}
