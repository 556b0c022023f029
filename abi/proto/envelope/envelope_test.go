package envelope

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi/proto/abipb"
)

func sample() *Message {
	return &Message{
		Type:        Response,
		ID:          []byte("18446744073709551615"),
		Service:     []byte("greeter"),
		Endpoint:    []byte("Greeter.Hello"),
		Error:       []byte(`{"code":500}`),
		ContentType: []byte("application/json-rpc"),
		Body:        []byte{0, 1, 2, 0xff},
		Header:      []Header{{Key: []byte("Micro-Id"), Value: []byte("7")}, {Key: []byte("k"), Value: nil}},
	}
}

// The hand encoding and the generated code agree, both ways.
func TestMatchesSchema(t *testing.T) {
	m := sample()
	wire := Append(nil, m)
	assert.Len(t, wire, Size(m))
	var ref abipb.Message
	require.NoError(t, proto.Unmarshal(wire, &ref))
	assert.Equal(t, abipb.MessageType_MESSAGE_TYPE_RESPONSE, ref.GetType())
	assert.Equal(t, "18446744073709551615", ref.GetId())
	assert.Equal(t, "greeter", ref.GetService())
	assert.Equal(t, "Greeter.Hello", ref.GetEndpoint())
	assert.Equal(t, `{"code":500}`, ref.GetError())
	assert.Equal(t, "application/json-rpc", ref.GetContentType())
	assert.Equal(t, []byte{0, 1, 2, 0xff}, ref.GetBody())
	assert.Equal(t, map[string]string{"Micro-Id": "7", "k": ""}, ref.GetHeader())

	refWire, err := proto.Marshal(&ref)
	require.NoError(t, err)
	var back Message
	require.NoError(t, Unmarshal(&back, refWire))
	assert.Equal(t, m.Type, back.Type)
	assert.Equal(t, m.ID, back.ID)
	assert.Equal(t, m.Body, back.Body)
	assert.Equal(t, m.Error, back.Error)
	assert.Len(t, back.Header, 2)
}

func TestUnknownAndRepeatedFields(t *testing.T) {
	wire := Append(nil, &Message{Type: Request, ID: []byte("1")})
	wire = append(wire, 0x9a, 0x05, 0x01, 'x') // field 83, bytes: unknown
	wire = append(wire, 0x12, 0x01, '2')       // id again: the last wins
	wire = append(wire, 0x10, 0x05)            // id as a varint: another wire type, skipped
	var m Message
	require.NoError(t, Unmarshal(&m, wire))
	assert.Equal(t, "2", string(m.ID))
	assert.Equal(t, Request, m.Type)
}

func TestMalformed(t *testing.T) {
	var m Message
	for _, b := range [][]byte{{0x80}, {0x12, 0x05, 'a'}, {0x42, 0x02, 0x0a, 0x05}, {0x08}} {
		require.ErrorIs(t, Unmarshal(&m, b), ErrMalformed, "%x", b)
	}
}

func TestNoAllocations(t *testing.T) {
	m := sample()
	buf := make([]byte, 0, 256)
	var back Message
	back.Header = make([]Header, 0, 4)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		buf = Append(buf[:0], m)
		_ = Unmarshal(&back, buf)
	}))
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(Append(nil, sample()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := Unmarshal(&m, b); err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same and that protobuf
		// itself accepts.
		wire := Append(nil, &m)
		var again Message
		if err := Unmarshal(&again, wire); err != nil {
			t.Fatalf("re-encoded %x: %v", wire, err)
		}
		if string(again.ID) != string(m.ID) || string(again.Body) != string(m.Body) || again.Type != m.Type || len(again.Header) != len(m.Header) {
			t.Fatalf("%x re-encoded as %x decodes differently", b, wire)
		}
		var ref abipb.Message
		if err := (proto.UnmarshalOptions{}).Unmarshal(wire, &ref); err != nil && utf8ok(&m) {
			t.Fatalf("protobuf refuses the re-encoding %x: %v", wire, err)
		}
	})
}

// utf8ok reports whether every string field is valid UTF-8, which proto3 requires of them.
func utf8ok(m *Message) bool {
	for _, b := range [][]byte{m.ID, m.Service, m.Endpoint, m.Error, m.ContentType} {
		if !validUTF8(b) {
			return false
		}
	}
	for _, h := range m.Header {
		if !validUTF8(h.Key) || !validUTF8(h.Value) {
			return false
		}
	}
	return true
}

func validUTF8(b []byte) bool { return utf8.Valid(b) }

// Decoded fields point into the input with no room past their end, so appending to one
// copies it instead of writing over the field after it.
func TestDecodedFieldsAreCapped(t *testing.T) {
	wire := Append(nil, sample())
	var m Message
	require.NoError(t, Unmarshal(&m, wire))
	for _, f := range [][]byte{m.ID, m.Service, m.Endpoint, m.Error, m.ContentType, m.Body, m.Header[0].Key, m.Header[0].Value} {
		assert.Equal(t, len(f), cap(f), "field %q", f)
	}
	_ = append(m.Service, "XXXXXXXX"...)
	assert.Equal(t, "Greeter.Hello", string(m.Endpoint))
}
