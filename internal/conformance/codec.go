package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// codecImpl is a codec under test: its operations and the content types it declares.
type codecImpl struct {
	codec component.Codec
	types []string
	// raw calls an operation with raw envelope bytes; nil for a native twin, whose
	// envelopes never leave the host.
	raw func(ctx context.Context, op string, in []byte) ([]byte, error)
}

// codecSuite is the codec kind's acceptance suite (abi/codec.md), run once per content type
// the codec declares.
func codecSuite() suite {
	return suite{
		ops: []string{component.CodecEncode, component.CodecDecode},
		wasm: func(ctx context.Context, l wasmcomponent.Loader, path, name string) (any, func(context.Context) error, error) {
			m, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{
				Kind: component.KindCodec, Name: name, Path: path,
				Ops:     []string{component.CodecEncode, component.CodecDecode},
				Options: host.ModuleOptions{PoolSize: 1},
			})
			if err != nil {
				return nil, nil, err
			}
			types := component.CodecTypesOf(m.Descriptor())
			if len(types) == 0 {
				_ = m.Close(ctx)
				return nil, nil, fmt.Errorf("the codec declares no content types (the %q metadata of its encode endpoint)", component.CodecContentTypes)
			}
			return codecImpl{codec: codec.NewWasm(m), types: types, raw: m.Call}, m.Close, nil
		},
		native: func(_ context.Context, t component.Twin) (any, func(context.Context) error, error) {
			ct, ok := t.Native.(component.CodecTwin)
			if !ok || ct.Codec == nil {
				return nil, nil, fmt.Errorf("codec twin %q: its Native is a %T, not a component.CodecTwin", t.Name, t.Native)
			}
			if len(ct.ContentTypes) == 0 {
				return nil, nil, fmt.Errorf("codec twin %q lists no content types", t.Name)
			}
			return codecImpl{codec: ct.Codec, types: ct.ContentTypes}, noRelease, nil
		},
		check: func(ctx context.Context, r *Report, impl any) {
			c := impl.(codecImpl)
			for _, ct := range c.types {
				checkCodecType(ctx, r, c, ct)
			}
		},
	}
}

// goMicroError is the error reply the checks send.
const goMicroError = `{"id":"greeter","code":404,"detail":"no such \"thing\" ☃","status":"Not Found"}`

// sampleBodies are bare bodies to try, in order: the first one a codec encodes is its sample.
func sampleBodies() [][]byte {
	pb := protowire.AppendTag(nil, 1, protowire.BytesType)
	pb = protowire.AppendString(pb, "John")
	return [][]byte{[]byte(`{"name":"John"}`), pb, []byte("John")}
}

// largeBody returns a bare body of about 1 MiB shaped like sample (a JSON string, a protobuf
// field or raw bytes).
func largeBody(sample []byte) []byte {
	const n = 1 << 20
	switch {
	case len(sample) > 0 && sample[0] == '{':
		return append(append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), n)...), `"}`...)
	case len(sample) > 0 && sample[0] == 0x0a:
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		return protowire.AppendBytes(b, bytes.Repeat([]byte{0xab}, n))
	}
	return bytes.Repeat([]byte{0xab}, n)
}

// codecCode returns the code of an *abi.Error, or 0 for another error.
func codecCode(err error) int32 {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// roundTrip encodes m and decodes the wire bytes back, copying the result out.
func codecRoundTrip(ctx context.Context, c component.Codec, m *envelope.Message) (wire []byte, out envelope.Message, err error) {
	wire, err = c.Encode(ctx, nil, m)
	if err != nil {
		return nil, out, fmt.Errorf("encode: %w", err)
	}
	in := envelope.Message{Type: m.Type, ContentType: m.ContentType, Body: wire}
	if _, err = c.Decode(ctx, nil, &in, &out); err != nil {
		return wire, out, fmt.Errorf("decode of its own encoding %.60q: %w", wire, err)
	}
	return wire, out, nil
}

// sameFields reports the first field of got (set when the format carries it) that differs
// from want, and whether the body differs.
func sameFields(want, got *envelope.Message, checkBody bool) error {
	for _, f := range []struct {
		name      string
		want, got []byte
	}{{"id", want.ID, got.ID}, {"endpoint", want.Endpoint, got.Endpoint}, {"service", want.Service, got.Service}, {"error", want.Error, got.Error}} {
		if len(f.got) > 0 && !bytes.Equal(f.got, f.want) {
			return fmt.Errorf("%s: got %.60q, want %.60q", f.name, f.got, f.want)
		}
	}
	if got.Type != 0 && got.Type != want.Type {
		return fmt.Errorf("type: got %d, want %d", got.Type, want.Type)
	}
	if checkBody && !bytes.Equal(got.Body, want.Body) {
		return fmt.Errorf("body: got %d bytes %.60q, want %d bytes %.60q", len(got.Body), got.Body, len(want.Body), want.Body)
	}
	return nil
}

// checkCodecType runs the checks for content type ct.
func checkCodecType(ctx context.Context, r *Report, c codecImpl, ct string) {
	name := func(s string) string { return ct + ": " + s }
	req := func(body []byte) *envelope.Message {
		return &envelope.Message{Type: envelope.Request, ID: []byte("18446744073709551615"), Service: []byte("greeter"),
			Endpoint: []byte("Greeter.Hello"), ContentType: []byte(ct), Body: body}
	}

	// A sample body the codec encodes.
	var sample []byte
	var errs []string
	for _, b := range sampleBodies() {
		if _, err := c.codec.Encode(ctx, nil, req(b)); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		sample = b
		break
	}
	if sample == nil {
		r.Check(name("encodes a request"), fmt.Errorf("it encodes none of the sample bodies (JSON, protobuf, raw bytes): %s", strings.Join(errs, "; ")))
		return
	}

	// Requests and replies round trip.
	for _, typ := range []envelope.Type{envelope.Request, envelope.Response} {
		m := req(sample)
		m.Type = typ
		_, out, err := codecRoundTrip(ctx, c.codec, m)
		if err == nil {
			err = sameFields(m, &out, true)
		}
		if err == nil && len(out.ContentType) == 0 {
			err = errors.New("decode left content_type (the bare body's content type) empty")
		}
		r.Check(name(fmt.Sprintf("a %s round trips (id, endpoint, body)", typeName(typ))), err)
	}

	// An error reply survives: encoding it succeeds, and the decoded reply carries the
	// error intact, in error or (for a bare format) as the body, or leaves it to the
	// Micro-Error header.
	{
		m := &envelope.Message{Type: envelope.Response, ID: []byte("7"), Endpoint: []byte("Greeter.Hello"), Error: []byte(goMicroError), ContentType: []byte(ct)}
		_, out, err := codecRoundTrip(ctx, c.codec, m)
		if err == nil {
			switch carried := strings.TrimSpace(string(out.Error) + string(out.Body)); {
			case len(out.Error) > 0 && string(out.Error) != goMicroError:
				err = fmt.Errorf("error: got %.80q, want %q", out.Error, goMicroError)
			case len(out.Error) == 0 && len(out.Body) > 0 && carried != goMicroError:
				err = fmt.Errorf("the error reply came back as a reply with body %.80q and no error", out.Body)
			}
		}
		r.Check(name("an error reply survives"), err)
	}

	// An empty body.
	{
		_, out, err := codecRoundTrip(ctx, c.codec, req(nil))
		// JSON has no empty value: a JSON body may come back as null.
		jsonNull := string(out.Body) == "null" && codec.MediaType(string(out.ContentType)) == "application/json"
		if err == nil && len(out.Body) != 0 && !jsonNull {
			err = fmt.Errorf("body: got %.60q, want none (or null for a JSON body)", out.Body)
		}
		if err != nil && codecCode(err) == http.StatusInternalServerError && strings.HasPrefix(err.Error(), "encode") {
			err = nil // a format that cannot carry an empty body may refuse it with a 500
		}
		r.Check(name("an empty body round trips (or is refused with a 500)"), err)
	}

	// A large body.
	{
		m := req(largeBody(sample))
		_, out, err := codecRoundTrip(ctx, c.codec, m)
		if err == nil {
			err = sameFields(m, &out, true)
		}
		r.Check(name("a 1 MiB body round trips"), err)
	}

	// Malformed wire bytes: a 400, never a trap, and the codec still works afterwards.
	for _, wire := range [][]byte{{0xff, 0x00, 0x80}, []byte(`{"id":`), {0, 0, 0, 9, 1}, bytes.Repeat([]byte{0x80}, 64)} {
		for _, typ := range []envelope.Type{envelope.Request, envelope.Response} {
			in := envelope.Message{Type: typ, ContentType: []byte(ct), Body: wire}
			var out envelope.Message
			_, err := c.codec.Decode(ctx, nil, &in, &out)
			if err != nil && codecCode(err) != http.StatusBadRequest {
				err = fmt.Errorf("decode of %q: got %v, want success or a 400 error", wire, err)
			} else {
				err = nil
			}
			r.Check(name(fmt.Sprintf("malformed %s bytes %.12q: a 400, not a trap", typeName(typ), wire)), err)
		}
	}
	{
		_, out, err := codecRoundTrip(ctx, c.codec, req(sample))
		if err == nil {
			err = sameFields(req(sample), &out, true)
		}
		r.Check(name("works after malformed input"), err)
	}

	// Unknown envelope fields are skipped (only a module reads envelopes itself).
	if c.raw != nil {
		m := req(sample)
		plain := envelope.Append(nil, m)
		extended := protowire.AppendTag(append([]byte(nil), plain...), 99, protowire.BytesType)
		extended = protowire.AppendString(extended, "unknown")
		extended = protowire.AppendTag(extended, 100, protowire.VarintType)
		extended = protowire.AppendVarint(extended, 7)
		want, err1 := c.raw(ctx, component.CodecEncode, plain)
		got, err2 := c.raw(ctx, component.CodecEncode, extended)
		var err error
		switch {
		case err1 != nil:
			err = fmt.Errorf("encode: %w", err1)
		case err2 != nil:
			err = fmt.Errorf("encode with unknown fields 99 and 100: %w", err2)
		case !bytes.Equal(got, want):
			err = fmt.Errorf("encode with unknown fields 99 and 100 gave %.60q, without them %.60q", got, want)
		}
		r.Check(name("unknown envelope fields are ignored"), err)
	}
}

func typeName(t envelope.Type) string {
	if t == envelope.Request {
		return "request"
	}
	return "reply"
}
