package watch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func next(t *testing.T, w *Watcher) Change {
	t.Helper()
	select {
	case ch := <-w.C():
		return ch
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
		return Change{}
	}
}

// A file written in pieces is reported once it is complete; a file renamed over the watched
// one, and a removal, are reported too; other files in the folder are not.
func TestWatchReportsCompleteFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.wasm")
	w, err := New([]string{path, filepath.Join(t.TempDir(), "missing", "x.wasm")}, Options{Quiet: 300 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	// A slow writer: five pieces, 30 ms apart (each gap shorter than the quiet period).
	full := bytes.Repeat([]byte("x"), 5000)
	f, err := os.Create(path)
	require.NoError(t, err)
	for i := range 5 {
		_, err := f.Write(full[i*1000 : (i+1)*1000])
		require.NoError(t, err)
		time.Sleep(30 * time.Millisecond) // the writer's pace, not an assertion
	}
	require.NoError(t, f.Close())
	ch := next(t, w)
	assert.Equal(t, Change{Path: path}, ch)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.EqualValues(t, len(full), fi.Size(), "reported only once complete")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.wasm"), []byte("y"), 0o644))
	tmp := filepath.Join(dir, ".m.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("new"), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	assert.Equal(t, Change{Path: path}, next(t, w), "a rename over the file, and nothing for other files")

	require.NoError(t, os.Remove(path))
	assert.Equal(t, Change{Path: path, Removed: true}, next(t, w))
}
