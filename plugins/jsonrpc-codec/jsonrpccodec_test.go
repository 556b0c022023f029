package jsonrpccodec

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/proto/envelope"
)

func decode(t *testing.T, typ envelope.Type, wire string) (envelope.Message, error) {
	t.Helper()
	var out envelope.Message
	_, err := Decode(nil, &envelope.Message{Type: typ, ContentType: []byte(ContentType), Body: []byte(wire)}, &out)
	return out, err
}

func TestRequestRoundTrip(t *testing.T) {
	wire, err := Encode(nil, &envelope.Message{Type: envelope.Request, ID: []byte("7"), Endpoint: []byte("Greeter.Hello"), Body: []byte(`{"name":"John"}`)})
	require.NoError(t, err)
	// The bytes Go Micro's JSON-RPC client writes.
	assert.Equal(t, "{\"method\":\"Greeter.Hello\",\"params\":[{\"name\":\"John\"}],\"id\":\"7\"}\n", string(wire))
	m, err := decode(t, envelope.Request, string(wire))
	require.NoError(t, err)
	assert.Equal(t, "7", string(m.ID))
	assert.Equal(t, "Greeter.Hello", string(m.Endpoint))
	assert.Equal(t, `{"name":"John"}`, string(m.Body))
	assert.Equal(t, BodyContentType, string(m.ContentType))
}

func TestRequestDecoding(t *testing.T) {
	cases := []struct{ wire, id, method, body string }{
		{`{"method":"A.B","params":[1,2],"id":18446744073709551615}`, "18446744073709551615", "A.B", "1"},
		{` {"ID":null,"Method":"A.B","PARAMS":[ {"x" : [1]} ]} `, "", "A.B", `{"x" : [1]}`},
		{`{"method":"A\u002eB","params":[],"id":"\u00e9"}`, "é", "A.B", "null"},
		{`{"method":"A.B","params":null,"id":true,"extra":{"deep":[1]}}`, "true", "A.B", "null"},
		{`{"method":"A.B","id":{"k":1}}`, `{"k":1}`, "A.B", "null"},
	}
	for _, c := range cases {
		m, err := decode(t, envelope.Request, c.wire)
		require.NoError(t, err, c.wire)
		assert.Equal(t, c.id, string(m.ID), c.wire)
		assert.Equal(t, c.method, string(m.Endpoint), c.wire)
		assert.Equal(t, c.body, string(m.Body), c.wire)
	}
	for wire, msg := range map[string]string{
		``:                                   "unexpected end of JSON input",
		`[]`:                                 "looking for beginning of object",
		`{"method":1,"params":[]}`:           "method must be a string",
		`{"params":[{}]}`:                    "method must be a string",
		`{"method":"A.B","params":{}}`:       "params must be an array",
		`{"method":"A.B","params":[}`:        "invalid character '}'",
		`{"method":"A.B","params":[]} x`:     "after the envelope",
		`{"method":"A.B","params":[{"a":1]}`: "invalid character ']'",
	} {
		_, err := decode(t, envelope.Request, wire)
		require.ErrorContains(t, err, msg, wire)
	}
}

func TestResponse(t *testing.T) {
	wire, err := Encode(nil, &envelope.Message{Type: envelope.Response, ID: []byte("7"), Body: []byte(`{"greeting":"Hello John"}`)})
	require.NoError(t, err)
	// The bytes Go Micro's JSON-RPC server writes.
	assert.Equal(t, "{\"id\":\"7\",\"result\":{\"greeting\":\"Hello John\"},\"error\":null}\n", string(wire))
	m, err := decode(t, envelope.Response, string(wire))
	require.NoError(t, err)
	assert.Equal(t, `{"greeting":"Hello John"}`, string(m.Body))
	assert.Empty(t, m.Error)

	e := `{"id":"greeter","code":400,"detail":"name \"x\" is required","status":"Bad Request"}`
	wire, err = Encode(nil, &envelope.Message{Type: envelope.Response, ID: []byte("7"), Error: []byte(e), Body: []byte("ignored")})
	require.NoError(t, err)
	var generic struct {
		ID     string          `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	require.NoError(t, json.Unmarshal(wire, &generic))
	assert.Equal(t, "7", generic.ID)
	assert.Equal(t, "null", string(generic.Result))
	assert.Equal(t, e, generic.Error)
	m, err = decode(t, envelope.Response, string(wire))
	require.NoError(t, err)
	assert.Equal(t, e, string(m.Error))
	assert.Empty(t, m.Body)

	m, err = decode(t, envelope.Response, `{"id":1,"result":null,"error":{"code":-32601,"message":"no"}}`)
	require.NoError(t, err)
	assert.Equal(t, `{"code":-32601,"message":"no"}`, string(m.Error))
	m, err = decode(t, envelope.Response, `{"id":1,"error":""}`)
	require.NoError(t, err)
	assert.Equal(t, "unspecified error", string(m.Error))

	_, err = Encode(nil, &envelope.Message{Type: envelope.Response, Body: []byte(`{"a":`)})
	require.ErrorContains(t, err, "not valid JSON")
	_, err = Encode(nil, &envelope.Message{Body: []byte(`{}`)})
	require.ErrorIs(t, err, ErrType)
}

func TestNativeAllocatesNothing(t *testing.T) {
	req := envelope.Message{Type: envelope.Request, ID: []byte("123"), Endpoint: []byte("Greeter.Hello"), Body: []byte(`{"name":"John"}`)}
	var wire []byte
	var out envelope.Message
	dst := make([]byte, 0, 256)
	wire = make([]byte, 0, 256)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		wire, _ = Encode(wire[:0], &req)
		dst, _ = Decode(dst[:0], &envelope.Message{Type: envelope.Request, Body: wire}, &out)
	}))
}

func FuzzDecode(f *testing.F) {
	f.Add(true, []byte(`{"method":"Greeter.Hello","params":[{"name":"John"}],"id":"0"}`))
	f.Add(false, []byte(`{"id":"0","result":{"greeting":"Hello John"},"error":null}`))
	f.Add(false, []byte(`{"id":"0","result":null,"error":"{\"code\":500}"}`))
	f.Fuzz(func(t *testing.T, request bool, b []byte) {
		typ := envelope.Response
		if request {
			typ = envelope.Request
		}
		var out envelope.Message
		if _, err := Decode(nil, &envelope.Message{Type: typ, Body: b}, &out); err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("decoded %q, which is not valid JSON", b)
		}
		// What decodes re-encodes, and decodes to the same message.
		wire, err := Encode(nil, &out)
		if err != nil {
			t.Fatalf("re-encode of %q: %v", b, err)
		}
		var again envelope.Message
		if _, err := Decode(nil, &envelope.Message{Type: typ, Body: wire}, &again); err != nil {
			t.Fatalf("decode of re-encoded %q: %v", wire, err)
		}
		// Encoding writes each invalid UTF-8 byte as U+FFFD.
		if string(again.ID) != valid(out.ID) || string(again.Endpoint) != valid(out.Endpoint) || string(again.Error) != valid(out.Error) ||
			(typ == envelope.Request && string(again.Body) != string(out.Body)) {
			t.Fatalf("%q and its re-encoding %q decode differently", b, wire)
		}
	})
}

func valid(b []byte) string {
	var out []rune
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = append(out, r)
		b = b[n:]
	}
	return string(out)
}
