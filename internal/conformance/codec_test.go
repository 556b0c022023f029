package conformance_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/plugins/standard"
)

// TestCodecs holds both twins of every stock codec to the codec suite.
func TestCodecs(t *testing.T) {
	ctx := context.Background()
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	names := cat.Names(component.KindCodec)
	require.Len(t, names, 4)
	for _, name := range names {
		t.Run(name+"/native", func(t *testing.T) {
			twin, _ := cat.Twin(component.KindCodec, name)
			r, err := conformance.Twin(ctx, twin)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Greater(t, len(r.Results), 10)
		})
		t.Run(name+"/wasm", func(t *testing.T) {
			path, err := guestbuild.Go(ctx, "./plugins/"+name+"/wasm", filepath.Join(t.TempDir(), name))
			require.NoError(t, err)
			r, err := conformance.File(ctx, rt, path)
			require.NoError(t, err)
			require.NoError(t, r.Err())
			assert.Equal(t, name, r.Name)
			assert.Greater(t, len(r.Results), 10)
		})
	}
}

// TestBrokenCodec: a codec whose decode drops everything fails, saying which checks and why.
func TestBrokenCodec(t *testing.T) {
	ctx := context.Background()
	path, err := guestbuild.WAT(ctx, "./internal/conformance/testdata/broken-codec.wat", t.TempDir())
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	r, err := conformance.File(ctx, rt, path)
	require.NoError(t, err)
	err = r.Err()
	require.Error(t, err)
	t.Log(err)
	assert.ErrorContains(t, err, `codec "broken-codec" fails`)
	assert.ErrorContains(t, err, "application/x-broken: a request round trips (id, endpoint, body): body: got 0 bytes")
	assert.ErrorContains(t, err, "a 1 MiB body round trips")
}

// codecDoc returns abi/codec.md.
func codecDoc(t *testing.T) string {
	t.Helper()
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(root, "abi", "codec.md"))
	require.NoError(t, err)
	return string(doc)
}

// TestSpecCodecExample assembles the WAT codec of abi/codec.md exactly as printed, holds it to
// the suite and serves a third-party content type with it, so the example cannot rot.
func TestSpecCodecExample(t *testing.T) {
	ctx := context.Background()
	_, code, ok := strings.Cut(codecDoc(t), "```wat\n")
	require.True(t, ok, "abi/codec.md has no ```wat block")
	code, _, ok = strings.Cut(code, "\n```")
	require.True(t, ok)
	dir := t.TempDir()
	src := filepath.Join(dir, "raw-codec.wat")
	require.NoError(t, os.WriteFile(src, []byte(code), 0o644))
	path, err := guestbuild.WAT(ctx, src, dir)
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	r, err := conformance.File(ctx, rt, path)
	require.NoError(t, err)
	require.NoError(t, r.Err())

	// Listed by name beside the stock codecs, it serves its own content type.
	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	l, err := codec.Load(ctx, rt, codec.Setup{Dir: dir, Modules: []string{"json-codec", "raw-codec"}, Catalogue: cat})
	require.NoError(t, err)
	defer l.Close(ctx)
	assert.Equal(t, []string{"application/json", "application/x-raw"}, l.Registry.ContentTypes())
	c, ok := l.Registry.Lookup("application/x-raw")
	require.True(t, ok)
	msg, err := c.ReadRequest(ctx, "application/x-raw", []byte("hello"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(msg.Body))
}

// TestSpecEnvelopeBytes checks the byte-by-byte envelope of abi/codec.md against the encoder.
func TestSpecEnvelopeBytes(t *testing.T) {
	doc := codecDoc(t)
	_, block, ok := strings.Cut(doc, "to encode as `application/json`:\n\n```\n")
	require.True(t, ok)
	block, _, _ = strings.Cut(block, "```")
	var printed []byte
	for _, line := range strings.Split(block, "\n") {
		if i := strings.Index(line, "   "); i >= 0 && !strings.HasPrefix(line, "      ") {
			line = line[:i]
		}
		for _, w := range strings.Fields(line) {
			b, err := hex.DecodeString(w)
			if err != nil || len(b) != 1 {
				break
			}
			printed = append(printed, b...)
		}
	}
	want := envelope.Append(nil, &envelope.Message{Type: envelope.Request, ID: []byte("1"), Endpoint: []byte("Greeter.Hello"),
		ContentType: []byte("application/json"), Body: []byte(`{"name":"John"}`)})
	assert.True(t, bytes.Equal(want, printed), "printed % x\nencoder % x", printed, want)
}

// TestRustCodec holds the JSON codec written in Rust (plugins/json-codec-rust) to the same
// suite as the stock codecs: components are not Go-only.
func TestRustCodec(t *testing.T) {
	ctx := context.Background()
	path, err := guestbuild.Rust(ctx, "./plugins/json-codec-rust", t.TempDir())
	if errors.Is(err, guestbuild.ErrToolMissing) && os.Getenv("CI") == "" {
		t.Skipf("%v (make deps installs it; under CI this fails)", err)
	}
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	r, err := conformance.File(ctx, rt, path)
	require.NoError(t, err)
	require.NoError(t, r.Err())
	assert.Equal(t, "json-codec-rust", r.Name)
	assert.Greater(t, len(r.Results), 10)
}

// TestLoadedChecksTheBytesGiven: Loaded holds the bytes its caller loaded to the suite, not
// whatever the file holds by then — a file replaced during a swap's checks cannot pass them
// in place of the module that will serve.
func TestLoadedChecksTheBytesGiven(t *testing.T) {
	ctx := context.Background()
	good, err := guestbuild.Go(ctx, "./plugins/json-codec/wasm", t.TempDir())
	require.NoError(t, err)
	broken, err := guestbuild.WAT(ctx, "./internal/conformance/testdata/broken-codec.wat", t.TempDir())
	require.NoError(t, err)
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: host.DefaultCacheDir()})
	require.NoError(t, err)
	defer rt.Close(ctx)
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return b
	}
	goodWasm, brokenWasm := read(good), read(broken)
	file := filepath.Join(t.TempDir(), "codec.wasm")

	check := func(wasm, onDisk []byte) error {
		require.NoError(t, os.WriteFile(file, onDisk, 0o644))
		m, err := rt.LoadBytes(ctx, file, wasm, host.ModuleOptions{PoolSize: 1})
		require.NoError(t, err)
		defer m.Close(ctx)
		r, err := conformance.Loaded(ctx, rt, file, wasm, m.Descriptor())
		require.NoError(t, err)
		return r.Err()
	}
	require.NoError(t, check(goodWasm, brokenWasm), "the good bytes pass, whatever the file holds")
	err = check(brokenWasm, goodWasm)
	require.Error(t, err, "the broken bytes fail, whatever the file holds")
	assert.ErrorContains(t, err, `codec "broken-codec" fails`)
}
