package protocodec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi/proto/envelope"
)

func hello(name string) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendString(b, name)
}

func TestDecode(t *testing.T) {
	var out envelope.Message
	for _, body := range [][]byte{nil, hello("John"), append(hello("a"), 0x10, 0x96, 0x01, 0x1d, 1, 2, 3, 4)} {
		_, err := Decode(nil, &envelope.Message{Type: envelope.Request, ContentType: []byte(ContentType), Body: body}, &out)
		require.NoError(t, err)
		assert.Equal(t, body, out.Body)
		assert.Equal(t, ContentType, string(out.ContentType))
	}
	for _, bad := range [][]byte{{0x0a}, {0x0a, 0x05, 'a'}, {0x80}, {0x00, 0x01}, {0x0c}, []byte("hello")} {
		_, err := Decode(nil, &envelope.Message{Type: envelope.Request, ContentType: []byte(ContentType), Body: bad}, &out)
		require.ErrorIs(t, err, ErrMalformed, "%x", bad)
		assert.ErrorContains(t, err, "malformed protobuf body")
	}
	// Octet streams are raw bytes.
	_, err := Decode(nil, &envelope.Message{Type: envelope.Request, ContentType: []byte(OctetStream), Body: []byte("hello")}, &out)
	require.NoError(t, err)
	assert.Equal(t, OctetStream, string(out.ContentType))
}

func TestEncode(t *testing.T) {
	wire, err := Encode(nil, &envelope.Message{Type: envelope.Response, ContentType: []byte(ContentType), Body: hello("x")})
	require.NoError(t, err)
	assert.Equal(t, hello("x"), wire)
	wire, err = Encode(nil, &envelope.Message{Type: envelope.Response, Error: []byte(`{"code":500}`), Body: hello("x")})
	require.NoError(t, err)
	assert.Empty(t, wire, "an error travels in Micro-Error, not the body")
	_, err = Encode(nil, &envelope.Message{Type: envelope.Response, ContentType: []byte(ContentType), Body: []byte{0x80}})
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Encode(nil, &envelope.Message{Body: hello("x")})
	require.ErrorIs(t, err, ErrType)
}

func TestNativeAllocatesNothing(t *testing.T) {
	in := envelope.Message{Type: envelope.Request, ContentType: []byte(ContentType), Body: hello("John")}
	var out envelope.Message
	dst := make([]byte, 0, 256)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		dst, _ = Encode(dst[:0], &in)
		dst, _ = Decode(dst[:0], &in, &out)
	}))
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(hello("John"))
	f.Add([]byte{0x0b, 0x0a, 0x00, 0x0c})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out envelope.Message
		if _, err := Decode(nil, &envelope.Message{Type: envelope.Request, ContentType: []byte(ContentType), Body: b}, &out); err != nil {
			return
		}
		wire, err := Encode(nil, &envelope.Message{Type: envelope.Response, ContentType: out.ContentType, Body: out.Body})
		if err != nil || string(wire) != string(b) {
			t.Fatalf("re-encode of %x gave %x, %v", b, wire, err)
		}
	})
}
