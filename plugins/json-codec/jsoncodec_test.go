package jsoncodec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/proto/envelope"
)

var validityCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}]} `,
	`"\u00e9\n\"\\\/"`, `"héllo ☃ 😀"`, `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`tru`, `nul`, `"abc`, `"\x"`, `"\u12"`, "\"a\tb\"", `{"a"}`, `{"a":}`, `{1:2}`, `[1 2]`,
	``, ` `, `{} {}`, `nulll`, `[[[[]]]]`, strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "\"\xff\xfe\"",
}

func TestValidateMatchesEncodingJSON(t *testing.T) {
	for _, c := range validityCases {
		err := Validate([]byte(c))
		assert.Equal(t, json.Valid([]byte(c)), err == nil, "%.40q: %v", c, err)
	}
}

func TestValidateErrorsSayWhere(t *testing.T) {
	err := Validate([]byte(`{"name":`))
	require.Error(t, err)
	assert.Equal(t, "unexpected end of JSON input at offset 8", err.Error())
	err = Validate([]byte(`{"name":x}`))
	assert.Equal(t, `invalid character 'x' looking for beginning of value at offset 8`, err.Error())
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "ctl \x00\x01\x1f\n\r\t\b\f", "unicode é ☃ 😀", "<html>&"} {
		q := AppendQuoted(nil, []byte(s))
		require.NoError(t, Validate(q), "%q", q)
		var want string
		require.NoError(t, json.Unmarshal(q, &want))
		assert.Equal(t, s, want)
		got, err := AppendUnquoted(nil, q)
		require.NoError(t, err)
		assert.Equal(t, s, string(got))
	}
	// Invalid UTF-8 becomes U+FFFD, so the output is always valid.
	assert.Equal(t, `"a\ufffdb"`, string(AppendQuoted(nil, []byte("a\xffb"))))
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, q := range []string{`"\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d\ude00"`, `"a\/b"`} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(q), &want))
		got, err := AppendUnquoted(nil, []byte(q))
		require.NoError(t, err)
		assert.Equal(t, want, string(got), q)
	}
}

func TestObjectReader(t *testing.T) {
	r, err := NewObjectReader([]byte(` { "a" : 1 , "B\u0043" : [2, {"x": "}"}] } `), 0)
	require.NoError(t, err)
	k, v, ok, err := r.Next()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, `"a"`, string(k))
	assert.Equal(t, `1`, string(v))
	k, v, ok, err = r.Next()
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, KeyIs(k, "bc"))
	assert.Equal(t, `[2, {"x": "}"}]`, string(v))
	_, _, ok, err = r.Next()
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, len(` { "a" : 1 , "B\u0043" : [2, {"x": "}"}] }`), r.Offset())
}

func TestEncodeDecode(t *testing.T) {
	m := envelope.Message{Type: envelope.Request, Body: []byte(`{"name":"John"}`)}
	wire, err := Encode(nil, &m)
	require.NoError(t, err)
	assert.Equal(t, `{"name":"John"}`, string(wire))

	var out envelope.Message
	_, err = Decode(nil, &envelope.Message{Type: envelope.Request, Body: wire}, &out)
	require.NoError(t, err)
	assert.Equal(t, `{"name":"John"}`, string(out.Body))
	assert.Equal(t, ContentType, string(out.ContentType))

	_, err = Decode(nil, &envelope.Message{Type: envelope.Request, Body: []byte(`{"name":`)}, &out)
	require.ErrorContains(t, err, "malformed JSON body: unexpected end of JSON input at offset 8")
	_, err = Decode(nil, &envelope.Message{Type: envelope.Request}, &out)
	require.ErrorContains(t, err, "malformed JSON body")
	_, err = Decode(nil, &envelope.Message{Type: envelope.Response}, &out)
	require.NoError(t, err, "an empty reply is allowed")
	_, err = Decode(nil, &envelope.Message{Body: []byte(`{}`)}, &out)
	require.ErrorIs(t, err, ErrType)

	_, err = Encode(nil, &envelope.Message{Type: envelope.Response, Body: []byte(`not json`)})
	require.ErrorContains(t, err, "not valid JSON")
	e := `{"id":"greeter","code":400,"detail":"name is required","status":"Bad Request"}`
	wire, err = Encode(nil, &envelope.Message{Type: envelope.Response, Error: []byte(e)})
	require.NoError(t, err)
	assert.Equal(t, e, string(wire), "an error reply's body is the error")
}

func TestNativeAllocatesNothing(t *testing.T) {
	body := []byte(`{"name":"John","tags":["a","b"],"n":1.5e3,"esc":"\u00e9\n"}`)
	in := envelope.Message{Type: envelope.Request, Body: body}
	var out envelope.Message
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = Encode(dst[:0], &in)
		dst, _ = Decode(dst[:0], &in, &out)
	})
	assert.Zero(t, allocs)
}

func FuzzDecode(f *testing.F) {
	for _, c := range validityCases {
		if len(c) < 1000 { // the deep-nesting cases are for the unit test
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out envelope.Message
		_, err := Decode(nil, &envelope.Message{Type: envelope.Request, Body: b}, &out)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("Decode(%q) error %v, but json.Valid says %v", b, err, json.Valid(b))
		}
		if err == nil {
			wire, err := Encode(nil, &envelope.Message{Type: envelope.Request, Body: out.Body})
			if err != nil || string(wire) != string(b) {
				t.Fatalf("re-encode of %q gave %q, %v", b, wire, err)
			}
		}
	})
}

// stringCorpus holds strings whose encoding/json treatment is easy to get wrong.
var stringCorpus = []string{"", "plain", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\x7f\n\r\t\b\f",
	"unicode é ☃ 😀", "<html>&amp;", "sep \u2028 \u2029 \u2027 \u202a", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate",
	"\xef\xbf\xbd replacement", "trunc \xe2\x82"}

func TestAppendMarshaledStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range stringCorpus {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(AppendMarshaledString(nil, s)), "%q", s)
	}
}

func TestAppendUnmarshaledStringMatchesEncodingJSON(t *testing.T) {
	quoted := []string{`"\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"a\/b"`, "\"raw \xff\xfe bad\"", "\"esc\\n then \xc3\"",
		"\"\xed\xa0\x80\"", `"\u2028<&>"`}
	for _, s := range stringCorpus {
		quoted = append(quoted, string(AppendQuoted(nil, []byte(s))), `"`+s+`"`)
	}
	for _, q := range quoted {
		var want string
		if json.Unmarshal([]byte(q), &want) != nil {
			continue // a raw control character: not a string literal
		}
		got, err := AppendUnmarshaledString(nil, []byte(q))
		require.NoError(t, err)
		assert.Equal(t, want, string(got), "%q", q)
	}
}

func TestArrayReader(t *testing.T) {
	b := []byte(` [ 1 , "]" , [2, {"x": "]"}] ,null] `)
	r, err := NewArrayReader(b, 0)
	require.NoError(t, err)
	var elems []string
	for {
		e, ok, err := r.Next()
		require.NoError(t, err)
		if !ok {
			break
		}
		elems = append(elems, string(e))
	}
	assert.Equal(t, []string{`1`, `"]"`, `[2, {"x": "]"}]`, `null`}, elems)
	assert.Equal(t, len(b)-1, r.Offset())

	r, err = NewArrayReader([]byte(`[]`), 0)
	require.NoError(t, err)
	_, ok, err := r.Next()
	require.NoError(t, err)
	assert.False(t, ok)

	for _, bad := range []string{`[1 2]`, `[,1]`, `[1,]`, `[1`} {
		r, err := NewArrayReader([]byte(bad), 0)
		require.NoError(t, err)
		for err == nil {
			var ok bool
			if _, ok, err = r.Next(); !ok && err == nil {
				t.Fatalf("%s: read to the end without an error", bad)
			}
		}
	}
	_, err = NewArrayReader([]byte(`{}`), 0)
	assert.Error(t, err)
}

func FuzzStringsMatchEncodingJSON(f *testing.F) {
	for _, s := range stringCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendMarshaledString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendMarshaledString(%q) = %s, encoding/json gives %s", s, got, want)
		}
		q := `"` + s + `"`
		var ws string
		if json.Unmarshal([]byte(q), &ws) == nil {
			got, err := AppendUnmarshaledString(nil, []byte(q))
			if err != nil || string(got) != ws {
				t.Fatalf("AppendUnmarshaledString(%q) = %q, %v; encoding/json gives %q", q, got, err, ws)
			}
		}
	})
}

func TestFieldIsMatchesEncodingJSON(t *testing.T) {
	type fields struct {
		Seed  int `json:"seed"`
		Kind  int `json:"kind"`
		Other int `json:"a_b"`
	}
	for _, key := range []string{"seed", "SEED", "sEeD", "ſeed", "\u017fEED", "\\u017feed", "kind", "\u212aind", "KIND", "a_b", "A_B",
		"seeds", "see", "", "se\u00e9d", "\xffeed", "seed\\u0000", "a-b", "\\u0073eed"} {
		var v fields
		require.NoError(t, json.Unmarshal([]byte(`{"`+key+`":1}`), &v))
		q := []byte(`"` + key + `"`)
		assert.Equal(t, v.Seed == 1, FieldIs(q, "seed"), "%q", key)
		assert.Equal(t, v.Kind == 1, FieldIs(q, "kind"), "%q", key)
		assert.Equal(t, v.Other == 1, FieldIs(q, "a_b"), "%q", key)
	}
}
