package selector_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/guestbuild"
	. "github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/plugins/standard"
)

// loadWith builds a selector from a [selector] table and returns it with its log.
func loadWith(t *testing.T, cat *component.Catalogue, comp config.Component) (*Selector, string, error) {
	t.Helper()
	var log bytes.Buffer
	rt := newRuntime(t)
	s, err := Load(context.Background(), Setup{Config: config.Selector{Component: comp}, Catalogue: cat, Loader: rt,
		Logger: slog.New(slog.NewTextHandler(&log, nil)), Seed: 1})
	if s != nil {
		t.Cleanup(func() { _ = s.Close(context.Background()) })
	}
	return s, log.String(), err
}

// copyTo copies the file at src to dir/name.
func copyTo(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestLoadChoosesTheTwin(t *testing.T) {
	dir := t.TempDir()
	path := copyTo(t, selectorWasm, dir, "random-selector.wasm")
	digest, err := component.Digest(path)
	require.NoError(t, err)
	nodes := candidates(4)
	pick := func(t *testing.T, s *Selector) Node {
		n, err := s.Select(context.Background(), "greeter", nodes, Filter{Version: "2.0.0"})
		require.NoError(t, err)
		require.Equal(t, "2.0.0", n.Version)
		return n
	}

	t.Run("auto, stock build: native", func(t *testing.T) {
		cat, err := standard.Catalogue("")
		require.NoError(t, err)
		cat.AddStockDigest("random-selector", digest)
		s, log, err := loadWith(t, cat, config.Component{Module: "random-selector", Mode: "auto", Path: path})
		require.NoError(t, err)
		assert.Contains(t, log, "component=selector name=random-selector runs=native")
		pick(t, s)
	})
	t.Run("auto, another build: wasm", func(t *testing.T) {
		cat, err := standard.Catalogue("")
		require.NoError(t, err)
		s, log, err := loadWith(t, cat, config.Component{Module: "random-selector", Path: path})
		require.NoError(t, err)
		assert.Contains(t, log, "runs=wasm")
		assert.Contains(t, log, "not the stock build")
		pick(t, s)
	})
	t.Run("auto, no file: native", func(t *testing.T) {
		cat, err := standard.Catalogue("")
		require.NoError(t, err)
		s, log, err := loadWith(t, cat, config.Component{Module: "random-selector", Path: filepath.Join(dir, "absent.wasm")})
		require.NoError(t, err)
		assert.Contains(t, log, "runs=native")
		pick(t, s)
	})
	t.Run("native and wasm explicit", func(t *testing.T) {
		cat, err := standard.Catalogue("")
		require.NoError(t, err)
		cat.AddStockDigest("random-selector", digest)
		_, log, err := loadWith(t, cat, config.Component{Module: "random-selector", Mode: "wasm", Path: path})
		require.NoError(t, err)
		assert.Contains(t, log, "runs=wasm why=\"mode wasm\"")
		_, log, err = loadWith(t, cat, config.Component{Module: "random-selector", Mode: "native", Path: path})
		require.NoError(t, err)
		assert.Contains(t, log, "runs=native why=\"mode native\"")
		_, _, err = loadWith(t, cat, config.Component{Module: "last-selector", Mode: "native", Path: path})
		require.ErrorContains(t, err, `selector "last-selector" has no native twin`)
	})
	t.Run("a module declaring another name is refused", func(t *testing.T) {
		cat, err := standard.Catalogue("")
		require.NoError(t, err)
		wrong := copyTo(t, selectorWasm, dir, "other.wasm")
		_, _, err = loadWith(t, cat, config.Component{Module: "other", Path: wrong})
		require.ErrorContains(t, err, `declares itself the selector "random-selector", not "other"`)
	})
	t.Run("a WAT selector of another name is refused", func(t *testing.T) {
		last, err := guestbuild.WAT(context.Background(), "internal/conformance/testdata/broken-selector.wat", t.TempDir())
		if err != nil {
			t.Skip(err)
		}
		_, _, err = loadWith(t, component.NewCatalogue(), config.Component{Module: "random-selector", Path: last})
		require.ErrorContains(t, err, `not "random-selector"`)
	})
}

func TestLoadOptions(t *testing.T) {
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	absent := filepath.Join(t.TempDir(), "random-selector.wasm")
	s, _, err := loadWith(t, cat, config.Component{Module: "random-selector", Path: absent,
		Options: map[string]any{"strategy": "roundrobin", "mark_period": "1s"}})
	require.NoError(t, err)
	nodes := candidates(3)
	var got []string
	for range 4 {
		n, err := s.Select(context.Background(), "greeter", nodes, Filter{})
		require.NoError(t, err)
		got = append(got, n.ID)
	}
	assert.Equal(t, []string{nodes[0].ID, nodes[1].ID, nodes[2].ID, nodes[0].ID}, got, "round robin over the flattened nodes")

	_, _, err = loadWith(t, cat, config.Component{Module: "random-selector", Path: absent, Options: map[string]any{"stratgy": "random"}})
	require.ErrorContains(t, err, "unknown key selector.options.stratgy")
	_, _, err = loadWith(t, cat, config.Component{Module: "random-selector", Path: absent, Options: map[string]any{"strategy": "fastest"}})
	require.ErrorContains(t, err, `selector.options.strategy: unknown strategy "fastest"`)
	_, _, err = loadWith(t, cat, config.Component{Module: "random-selector", Path: absent, Options: map[string]any{"mark_period": "soon"}})
	require.ErrorContains(t, err, "selector.options")

	o, err := DecodeOptions(map[string]any{"mark_period": "90s"})
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, o.MarkPeriod.D())
}

// TestLastSelector runs the WAT selector in the host's Selector: it picks the last node that
// passes the filters and its marks.
func TestLastSelector(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, err := guestbuild.WAT(ctx, "internal/selector/testdata/last-selector.wat", dir)
	if err != nil {
		t.Skip(err)
	}
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	s, log, err := loadWith(t, cat, config.Component{Module: "last-selector", Path: path})
	require.NoError(t, err)
	assert.Contains(t, log, "name=last-selector runs=wasm why=\"no native twin of that name\"")
	nodes := candidates(6)
	for range 5 {
		n, err := s.Select(ctx, "greeter", nodes, Filter{})
		require.NoError(t, err)
		assert.Equal(t, nodes[5].ID, n.ID)
	}
	n, err := s.Select(ctx, "greeter", nodes, Filter{Version: "1.0.0"})
	require.NoError(t, err)
	assert.Equal(t, "1.0.0", n.Version)
	s.Mark(nodes[5].ID, assert.AnError)
	n, err = s.Select(ctx, "greeter", nodes, Filter{})
	require.NoError(t, err)
	assert.Equal(t, nodes[4].ID, n.ID, "the marked node is skipped")
	_, err = s.Select(ctx, "greeter", nodes, Filter{Version: "7"})
	require.ErrorIs(t, err, ErrNoneAvailable)
}
