package guestbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoBuildsAreCached: a second build of unchanged sources is the cached file, and the
// caller's copy is its own.
func TestGoBuildsAreCached(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("MICROHOST_TEST_MODULES", cache)
	ctx := context.Background()

	out, err := Go(ctx, "./internal/guestbuild/testdata/tiny", t.TempDir())
	require.NoError(t, err)
	built, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, []byte("\x00asm"), built[:4])
	entries, err := filepath.Glob(filepath.Join(cache, "*.wasm"))
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// Mark the cache entry: the next build must return it rather than link again.
	require.NoError(t, os.WriteFile(entries[0], []byte("from the cache"), 0o644))
	out2, err := Go(ctx, "./internal/guestbuild/testdata/tiny", t.TempDir())
	require.NoError(t, err)
	got, err := os.ReadFile(out2)
	require.NoError(t, err)
	assert.Equal(t, "from the cache", string(got))

	// Changing the copy leaves the cache alone.
	require.NoError(t, os.WriteFile(out2, []byte("changed"), 0o644))
	cached, err := os.ReadFile(entries[0])
	require.NoError(t, err)
	assert.Equal(t, "from the cache", string(cached))

	// With the cache off, the module is built.
	t.Setenv("MICROHOST_TEST_MODULES", "off")
	out3, err := Go(ctx, "./internal/guestbuild/testdata/tiny", t.TempDir())
	require.NoError(t, err)
	got, err = os.ReadFile(out3)
	require.NoError(t, err)
	assert.Equal(t, built, got)
}

// TestSourceKeyFollowsTheSources: the key changes with any source file of the package and
// stays put otherwise, wherever the module is.
func TestSourceKeyFollowsTheSources(t *testing.T) {
	ctx := context.Background()
	mod := func() string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.24\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
		return dir
	}
	a, b := mod(), mod()
	ka, err := sourceKey(ctx, a, ".")
	require.NoError(t, err)
	kb, err := sourceKey(ctx, b, ".")
	require.NoError(t, err)
	assert.Equal(t, ka, kb, "the same sources in another folder")

	require.NoError(t, os.WriteFile(filepath.Join(b, "main.go"), []byte("package main\n\nfunc main() { println() }\n"), 0o644))
	kb, err = sourceKey(ctx, b, ".")
	require.NoError(t, err)
	assert.NotEqual(t, ka, kb, "a changed file")

	require.NoError(t, os.WriteFile(filepath.Join(a, "more.go"), []byte("package main\n"), 0o644))
	ka2, err := sourceKey(ctx, a, ".")
	require.NoError(t, err)
	assert.NotEqual(t, ka, ka2, "an added file")
}
