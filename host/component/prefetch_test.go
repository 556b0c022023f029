package component

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func prefetchCatalogue(t *testing.T, stock []byte) (*Catalogue, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "x-codec.wasm")
	require.NoError(t, os.WriteFile(path, stock, 0o644))
	c := NewCatalogue()
	require.NoError(t, c.Add(Twin{Kind: KindCodec, Name: "x-codec", Native: struct{}{}}))
	d, err := Digest(path)
	require.NoError(t, err)
	c.AddStockDigest("x-codec", d)
	return c, path
}

func pending(c *Catalogue) int {
	c.pre.mu.Lock()
	defer c.pre.mu.Unlock()
	return len(c.pre.pending)
}

// A prefetched digest decides Choose as a fresh one would, and is taken once.
func TestPrefetchedDigestIsChosenOnce(t *testing.T) {
	c, path := prefetchCatalogue(t, []byte("\x00asm stock build"))
	c.Prefetch(path, path, filepath.Join(filepath.Dir(path), "absent.wasm"), "")
	assert.Equal(t, 1, pending(c), "one entry per readable file")

	ch, err := c.Choose(KindCodec, "x-codec", ModeAuto, path)
	require.NoError(t, err)
	assert.Equal(t, ModeNative, ch.Mode)
	assert.Equal(t, "the module file is the stock build", ch.Reason)
	want, err := Digest(path)
	require.NoError(t, err)
	assert.Equal(t, want, ch.Digest)
	assert.Zero(t, pending(c), "taken by Choose")
}

// A file that changed after it was prefetched is hashed again: the stale digest must not
// make another build pass for the stock one.
func TestPrefetchedDigestOfAChangedFile(t *testing.T) {
	c, path := prefetchCatalogue(t, []byte("\x00asm stock build"))
	c.Prefetch(path)
	c.pre.mu.Lock()
	p := c.pre.pending[path]
	c.pre.mu.Unlock()
	<-p.done // the stock build's digest is in
	require.NoError(t, os.WriteFile(path, []byte("\x00asm another build, longer"), 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(path, later, later))

	ch, err := c.Choose(KindCodec, "x-codec", ModeAuto, path)
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, ch.Mode, "the changed file is not the stock build")
	want, err := Digest(path)
	require.NoError(t, err)
	assert.Equal(t, want, ch.Digest)
}

// A nil catalogue prefetches nothing, and does not fail.
func TestPrefetchOnNilCatalogue(t *testing.T) {
	var c *Catalogue
	c.Prefetch("whatever.wasm")
}
