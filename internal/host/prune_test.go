package host

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fillCache writes three 1,000-byte entries into a cache folder, oldest first.
func fillCache(t *testing.T) (dir string, names []string) {
	t.Helper()
	dir = t.TempDir()
	sub := filepath.Join(dir, "wazero-v0-amd64-linux")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	base := time.Now().Add(-3 * pruneKeep)
	for i, name := range []string{"oldest", "middle", "newest"} {
		p := filepath.Join(sub, name)
		require.NoError(t, os.WriteFile(p, make([]byte, 1000), 0o644))
		at := base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, os.Chtimes(p, at, at))
		names = append(names, p)
	}
	return dir, names
}

func TestPruneCacheRemovesTheOldestPastTheBound(t *testing.T) {
	dir, names := fillCache(t)
	pruneCache(dir, 2500, time.Now(), slog.New(slog.DiscardHandler))
	// 3,000 > 2,500: entries go, oldest first, until at most three quarters (1,875) remain.
	assert.NoFileExists(t, names[0])
	assert.NoFileExists(t, names[1])
	assert.FileExists(t, names[2])

	dir, names = fillCache(t)
	pruneCache(dir, 3000, time.Now(), slog.New(slog.DiscardHandler))
	for _, n := range names {
		assert.FileExists(t, n, "within the bound, nothing goes")
	}

	// Past the bound, but the middle and newest entries were written within the last day:
	// only the oldest goes, though three quarters are not reached.
	dir, names = fillCache(t)
	pruneCache(dir, 2500, modTime(t, names[1]).Add(pruneKeep-30*time.Second), slog.New(slog.DiscardHandler))
	assert.NoFileExists(t, names[0])
	assert.FileExists(t, names[1])
	assert.FileExists(t, names[2])
}

// modTime returns a file's modification time.
func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.ModTime()
}

func TestRuntimeBoundsItsCache(t *testing.T) {
	ctx := context.Background()
	dir, names := fillCache(t)
	r, err := NewRuntime(ctx, Options{CacheDir: dir, CacheMaxBytes: -1})
	require.NoError(t, err)
	require.NoError(t, r.Close(ctx))
	for _, n := range names {
		assert.FileExists(t, n, "no bound")
	}
	r, err = NewRuntime(ctx, Options{CacheDir: dir, CacheMaxBytes: 2500})
	require.NoError(t, err)
	require.NoError(t, r.Close(ctx))
	assert.NoFileExists(t, names[0])
	assert.FileExists(t, names[2])
}
