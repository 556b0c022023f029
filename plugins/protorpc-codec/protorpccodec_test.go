package protorpccodec

import (
	"encoding/binary"
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

func decode(t *testing.T, typ envelope.Type, wire []byte) (envelope.Message, error) {
	t.Helper()
	var out envelope.Message
	_, err := Decode(nil, &envelope.Message{Type: typ, ContentType: []byte(ContentType), Body: wire}, &out)
	return out, err
}

func TestRequestWire(t *testing.T) {
	wire, err := Encode(nil, &envelope.Message{Type: envelope.Request, ID: []byte("1"), Endpoint: []byte("Greeter.Hello"), Body: hello("John")})
	require.NoError(t, err)
	// Header: service_method (field 1) and seq (field 2, fixed64), as Go Micro writes them.
	hdr := []byte{0x0a, 13}
	hdr = append(hdr, "Greeter.Hello"...)
	hdr = append(hdr, 0x11, 1, 0, 0, 0, 0, 0, 0, 0)
	want := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)))
	want = append(want, hdr...)
	want = binary.BigEndian.AppendUint32(want, uint32(len(hello("John"))))
	want = append(want, hello("John")...)
	assert.Equal(t, want, wire)

	m, err := decode(t, envelope.Request, wire)
	require.NoError(t, err)
	assert.Equal(t, "1", string(m.ID))
	assert.Equal(t, "Greeter.Hello", string(m.Endpoint))
	assert.Equal(t, hello("John"), m.Body)
	assert.Equal(t, BodyContentType, string(m.ContentType))
}

func TestIDs(t *testing.T) {
	for id, want := range map[string]string{"": "0", "0": "0", "42": "42", "18446744073709551615": "18446744073709551615", "18446744073709551616": "0", "abc": "0", "-1": "0"} {
		wire, err := Encode(nil, &envelope.Message{Type: envelope.Request, ID: []byte(id), Endpoint: []byte("A.B")})
		require.NoError(t, err)
		m, err := decode(t, envelope.Request, wire)
		require.NoError(t, err)
		assert.Equal(t, want, string(m.ID), id)
	}
}

func TestErrorReply(t *testing.T) {
	e := `{"id":"greeter","code":400,"detail":"name is required","status":"Bad Request"}`
	wire, err := Encode(nil, &envelope.Message{Type: envelope.Response, ID: []byte("9"), Endpoint: []byte("Greeter.Hello"), Error: []byte(e), Body: hello("ignored")})
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0}, wire[len(wire)-4:], "the body frame is empty")
	m, err := decode(t, envelope.Response, wire)
	require.NoError(t, err)
	assert.Equal(t, e, string(m.Error))
	assert.Equal(t, "9", string(m.ID))
	assert.Empty(t, m.Body)
	// A request header has no error field: it is skipped as unknown.
	m, err = decode(t, envelope.Request, wire)
	require.NoError(t, err)
	assert.Empty(t, m.Error)
}

func TestMalformed(t *testing.T) {
	good, err := Encode(nil, &envelope.Message{Type: envelope.Request, ID: []byte("1"), Endpoint: []byte("A.B"), Body: hello("x")})
	require.NoError(t, err)
	for name, wire := range map[string][]byte{
		"empty":          nil,
		"short length":   {0, 0},
		"header too big": {0, 0, 0, 9, 1},
		"no body frame":  {0, 0, 0, 0},
		"trailing bytes": append(append([]byte{}, good...), 0),
		"bad header":     {0, 0, 0, 1, 0x80, 0, 0, 0, 0},
		"bad body":       {0, 0, 0, 0, 0, 0, 0, 1, 0x80},
		"huge frame":     {0xff, 0xff, 0xff, 0xff},
	} {
		_, err := decode(t, envelope.Request, wire)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err = Encode(nil, &envelope.Message{Type: envelope.Request, Body: []byte{0x80}})
	require.ErrorContains(t, err, "not protobuf")
}

func TestNativeAllocatesNothing(t *testing.T) {
	req := envelope.Message{Type: envelope.Request, ID: []byte("123"), Endpoint: []byte("Greeter.Hello"), Body: hello("John")}
	var out envelope.Message
	wire := make([]byte, 0, 256)
	dst := make([]byte, 0, 256)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		wire, _ = Encode(wire[:0], &req)
		dst, _ = Decode(dst[:0], &envelope.Message{Type: envelope.Request, Body: wire}, &out)
	}))
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(nil, &envelope.Message{Type: envelope.Request, ID: []byte("1"), Endpoint: []byte("Greeter.Hello"), Body: hello("John")})
	f.Add(true, good)
	bad, _ := Encode(nil, &envelope.Message{Type: envelope.Response, ID: []byte("1"), Error: []byte("boom")})
	f.Add(false, bad)
	f.Fuzz(func(t *testing.T, request bool, b []byte) {
		typ := envelope.Response
		if request {
			typ = envelope.Request
		}
		var out envelope.Message
		if _, err := Decode(nil, &envelope.Message{Type: typ, Body: b}, &out); err != nil {
			return
		}
		wire, err := Encode(nil, &out)
		if err != nil {
			t.Fatalf("re-encode of %x: %v", b, err)
		}
		var again envelope.Message
		if _, err := Decode(nil, &envelope.Message{Type: typ, Body: wire}, &again); err != nil {
			t.Fatalf("decode of re-encoded %x: %v", wire, err)
		}
		if string(again.ID) != string(out.ID) || string(again.Endpoint) != string(out.Endpoint) || string(again.Error) != string(out.Error) {
			t.Fatalf("%x and its re-encoding %x decode differently", b, wire)
		}
	})
}
