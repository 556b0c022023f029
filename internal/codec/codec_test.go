package codec

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/hosttest"
)

func protoString(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// corpus is the differential test's input: bodies of every shape, ids up to 2^64-1, error
// replies. Each codec gets every body; those it refuses must be refused the same way by both
// twins.
func corpus() (bodies [][]byte, ids, errs []string) {
	big := make([]byte, 0, 1<<20+16)
	big = append(big, '"')
	for len(big) < 1<<20 {
		big = append(big, "0123456789abcdef"...)
	}
	big = append(big, '"')
	nested := strings.Repeat(`{"a":[`, 200) + `"deep"` + strings.Repeat(`]}`, 200)
	bodies = [][]byte{
		nil,
		[]byte(`{}`),
		[]byte(`{"name":"John"}`),
		[]byte(`{"name":"héllo ☃ 😀 \u00e9\n\"q\""}`),
		[]byte(nested),
		big,
		[]byte(`{"name":`),
		protoString(1, "John"),
		protoString(1, string(bytes.Repeat([]byte{0xab}, 1<<20))),
		{0x80},
		[]byte("plain text"),
	}
	ids = []string{"", "0", "1", "18446744073709551615", "not-a-number", "é"}
	errs = []string{"", `{"id":"greeter","code":400,"detail":"name \"x\" is required ☃","status":"Bad Request"}`}
	return bodies, ids, errs
}

// outcome is what one codec operation gave, in a comparable form.
type outcome struct {
	wire []byte
	msg  Message
	code int32
	err  string
}

func apply(ctx context.Context, p Plugin, encode bool, m *envelope.Message) outcome {
	var o outcome
	var err error
	if encode {
		o.wire, err = p.Encode(ctx, nil, m)
	} else {
		var out envelope.Message
		if _, err = p.Decode(ctx, nil, m, &out); err == nil {
			o.msg = Message{ID: string(out.ID), Service: string(out.Service), Endpoint: string(out.Endpoint), Error: string(out.Error), ContentType: string(out.ContentType), Body: append([]byte(nil), out.Body...)}
		}
	}
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			o.code, o.err = ae.Code, ae.Detail
		} else {
			o.code, o.err = -1, err.Error()
		}
	}
	return o
}

func TestWasmAndNativeAgree(t *testing.T) {
	ctx := context.Background()
	l := loadWasm(t)
	bodies, ids, errs := corpus()
	for _, s := range stockTwins(t) {
		for _, ct := range s.ContentTypes {
			wasm, ok := l.Registry.Lookup(ct)
			require.True(t, ok)
			require.Equal(t, ModeWasm, l.Modes[ct])
			var encoded, decoded, failed int
			for _, typ := range []envelope.Type{envelope.Request, envelope.Response} {
				for _, body := range bodies {
					ids := ids
					if len(body) > 1<<16 {
						ids = ids[3:4] // the big bodies once, with the biggest id
					}
					for _, id := range ids {
						for _, e := range errs {
							if e != "" && typ == envelope.Request {
								continue
							}
							m := &envelope.Message{Type: typ, ID: []byte(id), Endpoint: []byte("Greeter.Hello"), Error: []byte(e), ContentType: []byte(ct), Body: body}
							n := apply(ctx, s.Codec, true, m)
							w := apply(ctx, wasm.Plugin(), true, m)
							require.Equal(t, n, w, "%s encode %v id %q body %.40q", ct, typ, id, body)
							encoded++
							// Decode what was encoded, and the body itself as wire bytes.
							for _, wire := range [][]byte{n.wire, body} {
								in := &envelope.Message{Type: typ, ContentType: []byte(ct), Body: wire}
								n := apply(ctx, s.Codec, false, in)
								w := apply(ctx, wasm.Plugin(), false, in)
								require.Equal(t, n, w, "%s decode %v %.40q", ct, typ, wire)
								decoded++
								if n.err != "" {
									failed++
									assert.Equal(t, int32(400), n.code, n.err)
								}
							}
						}
					}
				}
			}
			t.Logf("%s: %d encodes, %d decodes (%d refused) identical", ct, encoded, decoded, failed)
			if ct != "application/octet-stream" {
				assert.NotZero(t, failed, "the corpus has bytes each codec refuses")
			}
			assert.Less(t, failed, decoded, "the corpus has bytes each codec accepts")
		}
	}
}

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	for _, reg := range map[string]*Registry{"native": NativeRegistry(stockCatalogue(t)), "wasm": loadWasm(t).Registry} {
		for ct, body := range map[string][]byte{
			"application/json":                         []byte(`{"name":"John"}`),
			"application/json-rpc":                     []byte(`{"name":"John"}`),
			"application/protobuf":                     protoString(1, "John"),
			"application/proto-rpc":                    protoString(1, "John"),
			"application/octet-stream; charset=binary": []byte("raw"),
		} {
			c, ok := reg.Lookup(ct)
			require.True(t, ok, ct)
			wire, err := c.WriteRequest(ctx, ct, &Message{ID: "18446744073709551615", Endpoint: "Greeter.Hello", Body: body})
			require.NoError(t, err)
			req, err := c.ReadRequest(ctx, ct, wire)
			require.NoError(t, err)
			assert.Equal(t, body, req.Body, ct)
			if strings.Contains(ct, "rpc") {
				assert.Equal(t, "18446744073709551615", req.ID, ct)
				assert.Equal(t, "Greeter.Hello", req.Endpoint, ct)
			}
			e := abi.NewError("greeter", 404, "nope").Error()
			wire, err = c.WriteResponse(ctx, ct, &Message{ID: req.ID, Endpoint: req.Endpoint, Error: e})
			require.NoError(t, err)
			rsp, err := c.ReadResponse(ctx, ct, wire)
			require.NoError(t, err)
			if strings.Contains(ct, "rpc") || ct == "application/json" {
				assert.Equal(t, e, strings.TrimSpace(rsp.Error+string(rsp.Body)), ct)
			}
		}
	}
}

func TestLoadModes(t *testing.T) {
	ctx := context.Background()
	rt := hosttest.Runtime(t, testCompilations)

	cat := stockCatalogue(t)

	// auto: Wasm where the folder has a module that is not the stock build.
	partial := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(pluginDir, "jsonrpc-codec.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(partial, "jsonrpc-codec.wasm"), raw, 0o644))
	l, err := Load(ctx, rt, Setup{Dir: partial, Catalogue: cat})
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, l.Modes["application/json-rpc"])
	assert.Equal(t, ModeNative, l.Modes["application/json"])
	assert.Len(t, l.Modules, 1)
	require.NoError(t, l.Close(ctx))

	// auto: the stock build runs as the native twin.
	stock := stockCatalogue(t)
	digest, err := component.Digest(filepath.Join(partial, "jsonrpc-codec.wasm"))
	require.NoError(t, err)
	stock.AddStockDigest("jsonrpc-codec", digest)
	l, err = Load(ctx, rt, Setup{Dir: partial, Catalogue: stock})
	require.NoError(t, err)
	assert.Equal(t, ModeNative, l.Modes["application/json-rpc"])
	assert.Empty(t, l.Modules)
	require.NoError(t, l.Close(ctx))

	// native and wasm, explicit.
	l, err = Load(ctx, rt, Setup{Dir: pluginDir, Mode: ModeNative, Catalogue: cat})
	require.NoError(t, err)
	assert.Empty(t, l.Modules)
	assert.Len(t, l.Modes, 5)
	require.NoError(t, l.Close(ctx))

	// Per content type overrides; a module serving two types is loaded once.
	l, err = Load(ctx, rt, Setup{Dir: pluginDir, Mode: ModeNative, Catalogue: cat, Types: map[string]string{"application/protobuf": "wasm", "Application/Octet-Stream": "wasm"}})
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, l.Modes["application/protobuf"])
	assert.Equal(t, ModeWasm, l.Modes["application/octet-stream"])
	assert.Equal(t, ModeNative, l.Modes["application/json-rpc"])
	assert.Len(t, l.Modules, 1)
	require.NoError(t, l.Close(ctx))

	// A module split between its twins.
	l, err = Load(ctx, rt, Setup{Dir: pluginDir, Mode: ModeNative, Catalogue: cat, Types: map[string]string{"application/protobuf": "wasm"}})
	require.NoError(t, err)
	assert.Equal(t, ModeWasm, l.Modes["application/protobuf"])
	assert.Equal(t, ModeNative, l.Modes["application/octet-stream"])
	require.NoError(t, l.Close(ctx))

	_, err = Load(ctx, rt, Setup{Dir: partial, Mode: ModeWasm, Catalogue: cat})
	require.ErrorContains(t, err, "json-codec.wasm")
	_, err = Load(ctx, rt, Setup{Dir: partial, Mode: "fast", Catalogue: cat})
	require.ErrorContains(t, err, `unknown mode "fast"`)
	_, err = Load(ctx, rt, Setup{Dir: partial, Mode: ModeNative, Catalogue: cat, Types: map[string]string{"text/plain": "native"}})
	require.ErrorContains(t, err, `no codec module serves "text/plain"`)

	// A module of another kind is refused.
	wrong := t.TempDir()
	handler, err := os.ReadFile(greeterWasm)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(wrong, "proto-codec.wasm"), handler, 0o644))
	_, err = Load(ctx, rt, Setup{Dir: wrong, Catalogue: cat})
	require.ErrorContains(t, err, "it is a handler module")
}

// TestWrongNameRefused is the case: jsonrpc-codec.wasm copied over json-codec.wasm is
// refused at start-up, with a message naming both, instead of failing every JSON call.
func TestWrongNameRefused(t *testing.T) {
	ctx := context.Background()
	rt := hosttest.Runtime(t, testCompilations)
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(pluginDir, "jsonrpc-codec.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "json-codec.wasm"), raw, 0o644))
	for _, mode := range []string{ModeAuto, ModeWasm} {
		_, err = Load(ctx, rt, Setup{Dir: dir, Mode: mode, Modules: []string{"json-codec"}, Catalogue: stockCatalogue(t)})
		require.Error(t, err, mode)
		assert.ErrorContains(t, err, `"jsonrpc-codec"`, mode)
		assert.ErrorContains(t, err, `"json-codec"`, mode)
	}
}

// TestThirdParty loads a codec module that has no native twin: its content types come from
// its descriptor.
func TestThirdParty(t *testing.T) {
	ctx := context.Background()
	rt := hosttest.Runtime(t, testCompilations)
	var logs bytes.Buffer
	l, err := Load(ctx, rt, Setup{Dir: pluginDir, Modules: []string{"proto-codec"}, Catalogue: component.NewCatalogue(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer l.Close(ctx)
	assert.Equal(t, []string{"application/octet-stream", "application/protobuf"}, l.Registry.ContentTypes())
	assert.Contains(t, logs.String(), "component=codec name=proto-codec runs=wasm")

	_, err = Load(ctx, rt, Setup{Dir: pluginDir, Modules: []string{"proto-codec"}, Catalogue: component.NewCatalogue(),
		Types: map[string]string{"application/protobuf": "native"}})
	require.ErrorContains(t, err, "has no native twin")
}

func TestUnsupported(t *testing.T) {
	r := NativeRegistry(stockCatalogue(t))
	_, ok := r.Lookup("text/plain")
	assert.False(t, ok)
	assert.Equal(t, []string{"application/json", "application/json-rpc", "application/octet-stream", "application/proto-rpc", "application/protobuf"}, r.ContentTypes())
	_, ok = r.Lookup("APPLICATION/JSON; charset=utf-8")
	assert.True(t, ok)
}
