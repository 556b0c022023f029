package host

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/microhost/microhost/internal/guestbuild"
)

// Paths of the guest modules built from source for this package's tests.
var (
	greeterWasm   string
	testguestWasm string
	hostileWasm   string
	testCacheDir  string
	// testCompilations holds the compiled modules the tests' runtimes share (newRuntime), and
	// keeps those no module uses: the tests load the same few modules again and again, each
	// load from the compilation cache a few tenths of a CPU-second under the race detector.
	testCompilations = NewCompilations(16)
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	if greeterWasm, err = guestbuild.Go(ctx, "./handlers/greeter", dir); err == nil {
		testguestWasm, err = guestbuild.Go(ctx, "./internal/host/testdata/testguest", dir)
	}
	if err == nil {
		hostileWasm, err = guestbuild.Go(ctx, "./internal/host/testdata/hostileguest", dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The default on-disk cache is shared between test runs, so only the first run on a
	// machine pays for compiling each module.
	testCacheDir = DefaultCacheDir()
	defer testCompilations.Close(ctx)
	return m.Run()
}
