package testwarm

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

// TestGuestPackages: the walk finds the guests the tests build — handlers, the stock
// plugins' wasm packages and the guests under testdata — and leaves out the host's own
// commands and the tools.
func TestGuestPackages(t *testing.T) {
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	pkgs, err := guestPackages(root)
	require.NoError(t, err)
	for _, want := range []string{
		"./handlers/greeter", "./handlers/counter", "./plugins/json-codec/wasm",
		"./plugins/local-registry/wasm", "./internal/host/testdata/testguest",
		"./host/service/testdata/slowguest", firstBuild,
	} {
		assert.Contains(t, pkgs, want)
	}
	for _, not := range []string{"./cmd/microhost", "./cmd/protoc-gen-microhost", "./internal/testwarm", "./internal/loadtest"} {
		assert.NotContains(t, pkgs, not)
	}
}

// TestWarm builds and compiles the guest modules into the caches the suite uses, when
// MICROHOST_TESTWARM is set, as `make test` does before the suite; otherwise it is skipped.
func TestWarm(t *testing.T) {
	if os.Getenv("MICROHOST_TESTWARM") == "" {
		t.Skip("MICROHOST_TESTWARM is not set: `make test` runs this before the suite")
	}
	require.NoError(t, run(context.Background()))
}

// TestIsStockPlugin: the stock plugins' modules, whose variants the swap tests load, are the
// packages ./plugins/<name>/wasm, and no others.
func TestIsStockPlugin(t *testing.T) {
	for pkg, want := range map[string]bool{
		"./plugins/json-codec/wasm":              true,
		"./plugins/local-registry/wasm":          true,
		"./plugins/wasm":                         false,
		"./plugins/a/b/wasm":                     false,
		"./handlers/greeter":                     false,
		"./plugins/json-codec":                   false,
		"./host/service/testdata/plugins/x/wasm": false,
	} {
		assert.Equal(t, want, isStockPlugin(pkg), pkg)
	}
}

// TestStamp: a stamp vouches for the modules it records, for the build that wrote it, while
// every cache file it lists is there with its size; another build, another set of modules, a
// removed file or a file of another size voids it.
func TestStamp(t *testing.T) {
	cache := t.TempDir()
	sub := filepath.Join(cache, "wazero-dev")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	entry := filepath.Join(sub, "entry")
	require.NoError(t, os.WriteFile(entry, []byte("code"), 0o644))
	file := filepath.Join(t.TempDir(), "testwarm.stamp")
	want := wanted([]guest{{wasm: []byte("a")}, {wasm: []byte("b")}, {wasm: []byte("a")}})
	require.Len(t, want, 2, "one digest per distinct module")

	assert.False(t, stampHolds(file, "b1", want, cache), "no stamp yet")
	require.NoError(t, writeStamp(file, "b1", want, cache))
	assert.True(t, stampHolds(file, "b1", want, cache))
	assert.False(t, stampHolds(file, "b1", want[:1], cache), "other modules are wanted")
	assert.False(t, stampHolds(file, "b2", want, cache), "another build of testwarm")
	assert.False(t, stampHolds(file, "", want, cache), "a build that cannot tell what it is")

	require.NoError(t, os.WriteFile(entry, []byte("other code"), 0o644))
	assert.False(t, stampHolds(file, "b1", want, cache), "a cache file of another size")
	require.NoError(t, os.Remove(entry))
	assert.False(t, stampHolds(file, "b1", want, cache), "a cache file removed")
	require.NoError(t, os.WriteFile(filepath.Join(sub, "new"), []byte("x"), 0o644))
	require.NoError(t, writeStamp(file, "b1", want, cache))
	assert.True(t, stampHolds(file, "b1", want, cache), "a new stamp lists the cache as it is")
}
