//go:build !wasip1

package conformance_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/internal/host"
	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
)

// codecOutcome is a codec operation's answer: the reply bytes, or an error's code and detail.
type codecOutcome struct {
	Reply  string
	Code   int32
	Detail string
}

// nativeCodec runs an operation of the stock json-codec compiled into the host, as the
// codec guest adapter serves it: 400 for a bad envelope, encode's failures 500, decode's 400.
func nativeCodec(op string, wire []byte) codecOutcome {
	var in, out envelope.Message
	if err := envelope.Unmarshal(&in, wire); err != nil {
		return codecOutcome{Code: 400, Detail: op + ": " + err.Error()}
	}
	if op == "encode" {
		b, err := jsoncodec.Encode(nil, &in)
		if err != nil {
			return codecOutcome{Code: 500, Detail: err.Error()}
		}
		return codecOutcome{Reply: string(b)}
	}
	if _, err := jsoncodec.Decode(nil, &in, &out); err != nil {
		return codecOutcome{Code: 400, Detail: err.Error()}
	}
	return codecOutcome{Reply: string(envelope.Append(nil, &out))}
}

// TestRustJSONCodecMatchesStock calls the Rust JSON codec's encode and decode through the
// host and requires the stock json-codec's bytes for every message, and its errors: the same
// code and, for JSON syntax errors, the same detail.
func TestRustJSONCodecMatchesStock(t *testing.T) {
	m := loadRust(t, "./plugins/json-codec-rust")
	types := map[string]string{"content_types": "application/json"}
	assert.Equal(t, abi.Descriptor{Kind: "codec", Name: "json-codec-rust", Version: "1.0.0",
		Endpoints: []abi.Endpoint{{Name: "encode", Metadata: types}, {Name: "decode", Metadata: types}}}, m.Descriptor())

	var bodies []string
	for _, c := range identical {
		bodies = append(bodies, c.body)
	}
	bodies = append(bodies, `[1,2,{"a":null}]`, `"x"`, `42`, `-0.5e-3`, `true`, "\xff\xfe", `{"a":"\xc3"}`, " ", "{}\n",
		"[1,", "[1 2]", "[", "{", `{"a"`, `{"a":1 "b"}`, `"\`, `"\u12`, `"\uZZZZ"`, `"\x"`, "-", "-x", "1.x", "1e+", "nul", "fals", "\x7f", "\x80", "\xa0", "\xad", "\xe9", "'", "\\", "\x00", "\v", "\a",
		strings.Repeat("[", 10001)+strings.Repeat("]", 10001), `{"a":`+strings.Repeat("{\"b\":", 10000)+"1"+strings.Repeat("}", 10001))
	// The codec skips plain runs of a string eight bytes at a time: put each byte that ends
	// or escapes a run, and some that do not, at every offset of a word, with runs of
	// every length around it.
	for _, x := range []string{`"`, `\n`, `\u00e9`, `\"`, `\\`, `\x`, "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xff", " ", "!", "#", "[", "\\"} {
		for k := range 17 {
			bodies = append(bodies, `"`+strings.Repeat("a", k)+x+strings.Repeat("b", 16-k)+`"`)
		}
	}
	for k := range 25 {
		bodies = append(bodies, `"`+strings.Repeat("a", k), `["`+strings.Repeat("a", k)+`"]`)
	}
	goErr := `{"id":"greeter","code":400,"detail":"name is required","status":"Bad Request"}`
	var msgs []envelope.Message
	for _, b := range bodies {
		for _, typ := range []envelope.Type{envelope.Request, envelope.Response} {
			msgs = append(msgs, envelope.Message{Type: typ, ID: []byte("7"), Service: []byte("greeter"), Endpoint: []byte("Greeter.Hello"),
				ContentType: []byte("application/json"), Body: []byte(b)})
		}
	}
	msgs = append(msgs,
		envelope.Message{Type: envelope.Response},
		envelope.Message{Type: envelope.Request},
		envelope.Message{Type: envelope.Response, Error: []byte(goErr)},
		envelope.Message{Type: envelope.Response, Error: []byte(goErr), Body: []byte(`not json`)},
		envelope.Message{Type: envelope.Response, Error: []byte(`not json`)},
		envelope.Message{Type: envelope.Request, Error: []byte(goErr), Body: []byte(`{}`)},
		envelope.Message{Body: []byte(`{}`)},
		envelope.Message{Type: 3, Body: []byte(`{}`)},
		envelope.Message{Type: envelope.Request, Body: []byte(`{}`), Header: []envelope.Header{{Key: []byte("X-Trace"), Value: []byte("1")}, {Key: []byte("a")}}},
		envelope.Message{Type: envelope.Request, Body: []byte(strings.Repeat(" ", 300) + `{"long":true}`)},
	)
	var wires [][]byte
	for i := range msgs {
		wires = append(wires, envelope.Append(nil, &msgs[i]))
	}
	good := envelope.Append(nil, &envelope.Message{Type: envelope.Request, Body: []byte(`{"a":1}`)})
	wires = append(wires,
		nil,
		// Unknown fields of every wire type, a group, a negative type and a field repeated.
		append([]byte{0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x62, 2, 'h', 'i', 0x6b, 0x08, 0x01, 0x6c}, good...),
		append(append([]byte{}, good...), 0x3a, 2, '{', '}'),
		append(append([]byte{}, good...), 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		append(append([]byte{}, good...), 0x10, 0x01), // the id with a varint: skipped
		// Malformed envelopes: truncated, a bad length, field 0, a stray end group, a bad header.
		good[:len(good)-1],
		[]byte{0x3a, 0x80},
		[]byte{0x00, 0x01},
		[]byte{0x0c},
		[]byte{0x0f},
		[]byte{0x08},
		[]byte{0x42, 0x02, 0x0a, 0x05},
	)
	ctx := context.Background()
	exact := 0
	for i, wire := range wires {
		for _, op := range []string{"encode", "decode"} {
			want := nativeCodec(op, wire)
			var got codecOutcome
			rsp, err := m.Call(ctx, &host.Request{Endpoint: op, ContentType: "application/protobuf", Body: wire})
			if err != nil {
				var ae *abi.Error
				require.True(t, errors.As(err, &ae), "%s of message %d: not a codec error: %v", op, i, err)
				got = codecOutcome{Code: ae.Code, Detail: ae.Detail}
			} else {
				got = codecOutcome{Reply: string(rsp.Body)}
			}
			if want.Code == 400 && strings.Contains(want.Detail, "malformed message envelope") {
				// protowire's words for a bad envelope are its own: compare the code and
				// the operation.
				assert.Equal(t, want.Code, got.Code, "%s of message %d (%x)", op, i, wire)
				assert.True(t, strings.HasPrefix(got.Detail, op+": malformed message envelope"), "%s of message %d: %q", op, i, got.Detail)
				continue
			}
			assert.Equal(t, want, got, "%s of message %d (%q)", op, i, wire)
			exact++
		}
	}
	t.Logf("%d messages, %d operations compared in full", len(wires), exact)
}
