package jsonstr_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/jsonstr"
)

// trickyStrings are strings whose encoding/json treatment is easy to get wrong.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
	"\b\f\x00\x01\x1f\x7f", "héllo wörld", "日本語", "emoji 🙂", "\u2028\u2029", "bad \xff utf8 \xc3",
	"\xed\xa0\x80 surrogate", string([]byte{0xe2, 0x82}),
}

func TestAppendMarshaledIsEncodingJSONs(t *testing.T) {
	for _, s := range trickyStrings {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(jsonstr.AppendMarshaled(nil, s)), "%q", s)
	}
}

func FuzzAppendMarshaled(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(jsonstr.AppendMarshaled(nil, s)))
	})
}
