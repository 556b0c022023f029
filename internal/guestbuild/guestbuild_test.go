package guestbuild

import (
	"context"
	"errors"
	"fmt"
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

	built, entry, out2 := buildTwice(t, cache, func() (string, error) {
		return Go(ctx, "./internal/guestbuild/testdata/tiny", t.TempDir())
	})

	// Changing the copy leaves the cache alone.
	require.NoError(t, os.WriteFile(out2, []byte("changed"), 0o644))
	cached, err := os.ReadFile(entry)
	require.NoError(t, err)
	assert.Equal(t, "from the cache", string(cached))

	// With the cache off, the module is built.
	t.Setenv("MICROHOST_TEST_MODULES", "off")
	out3, err := Go(ctx, "./internal/guestbuild/testdata/tiny", t.TempDir())
	require.NoError(t, err)
	got, err := os.ReadFile(out3)
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

// TestCBuildsAreCached: the other toolchains' builds go through the same cache, keyed by
// their sources — a changed source is built again.
func TestCBuildsAreCached(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("MICROHOST_TEST_MODULES", cache)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "answer.c")
	require.NoError(t, os.WriteFile(src, []byte("int answer(void) { return 42; }\n"), 0o644))

	buildTwice(t, cache, func() (string, error) {
		out, err := C(ctx, dir, t.TempDir())
		if errors.Is(err, ErrToolMissing) {
			t.Skip(err)
		}
		return out, err
	})

	require.NoError(t, os.WriteFile(src, []byte("int answer(void) { return 43; }\n"), 0o644))
	out, err := C(ctx, dir, t.TempDir())
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, []byte("\x00asm"), got[:4], "a changed source is built, not taken from the cache")
}

// TestInputKeyFollowsTheInputs: the key of a non-Go build changes with the tool's version,
// the flags and any input file, ignores node_modules, and stays put otherwise, wherever the
// project is.
func TestInputKeyFollowsTheInputs(t *testing.T) {
	ctx := context.Background()
	project := func() string {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "p", "src"), 0o755))
		require.NoError(t, os.MkdirAll(filepath.Join(root, "p", "node_modules"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "p", "src", "a.txt"), []byte("a"), 0o644))
		return root
	}
	key := func(root, tool string, flags ...string) string {
		return inputKey(ctx, "test", root, tool, []string{"x"}, flags, filepath.Join(root, "p"))
	}
	a, b := project(), project()
	ka := key(a, "echo")
	require.NotEmpty(t, ka)
	assert.Equal(t, ka, key(b, "echo"), "the same inputs in another folder")
	assert.NotEqual(t, ka, key(a, "printf"), "another tool, or another version of it")
	assert.NotEqual(t, ka, key(a, "echo", "-O3"), "other flags")

	require.NoError(t, os.WriteFile(filepath.Join(b, "p", "node_modules", "dep.js"), []byte("x"), 0o644))
	assert.Equal(t, ka, key(b, "echo"), "node_modules is not an input")
	require.NoError(t, os.WriteFile(filepath.Join(b, "p", "src", "a.txt"), []byte("b"), 0o644))
	assert.NotEqual(t, ka, key(b, "echo"), "a changed file")
	require.NoError(t, os.WriteFile(filepath.Join(a, "p", "src", "more.txt"), []byte(""), 0o644))
	assert.NotEqual(t, ka, key(a, "echo"), "an added file")
	assert.Empty(t, key(a, "a-tool-that-is-not-installed"), "no version, no key: built, not cached")
}

// buildTwice runs build, checks that its module is the cache's only entry, marks the entry,
// and runs build again, which must return the marked entry rather than build. It returns
// the first build's bytes, the entry's path and the second build's file.
func buildTwice(t *testing.T, cache string, build func() (string, error)) ([]byte, string, string) {
	t.Helper()
	out, err := build()
	require.NoError(t, err)
	built, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, []byte("\x00asm"), built[:4])
	entries, err := filepath.Glob(filepath.Join(cache, "*.wasm"))
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// Mark the cache entry: the next build must return it rather than build again.
	require.NoError(t, os.WriteFile(entries[0], []byte("from the cache"), 0o644))
	out2, err := build()
	require.NoError(t, err)
	got, err := os.ReadFile(out2)
	require.NoError(t, err)
	assert.Equal(t, "from the cache", string(got))
	return built, entries[0], out2
}

// TestVariant: a variant is the module with one well-formed custom section appended, and
// each n gives another digest.
func TestVariant(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	one, two := Variant(wasm, 1), Variant(wasm, 2)
	assert.NotEqual(t, one, two)
	for n, v := range map[int][]byte{1: one, 2: two, 12: Variant(wasm, 12)} {
		require.True(t, len(v) > len(wasm) && string(v[:len(wasm)]) == string(wasm), "variant %d starts with the module", n)
		sec := v[len(wasm):]
		assert.Equal(t, byte(0), sec[0], "a custom section")
		require.Equal(t, int(sec[1]), len(sec)-2, "its size is the rest")
		name := sec[3 : 3+int(sec[2])]
		assert.Equal(t, "microhost-test-build", string(name))
		assert.Equal(t, fmt.Sprint(n), string(sec[3+len(name):]))
	}
	assert.Equal(t, "\x00asm\x01\x00\x00\x00", string(wasm), "the module is left alone")
}
