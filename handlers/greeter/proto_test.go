//go:build !wasip1

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/handlers/greeter/greeterpb"
)

// Protobuf requests get protobuf replies, byte for byte the encoding of the reply: its one
// field, number 2, length-delimited.
func TestProtobuf(t *testing.T) {
	for _, name := range []string{"John", "héllo ☃", ""} {
		req, err := (&greeterpb.HelloRequest{Name: name}).MicrohostAppendProto(nil)
		require.NoError(t, err)
		for _, ct := range []string{"application/protobuf", "application/octet-stream; charset=x"} {
			out, gerr := guest.Dispatch("Greeter.Hello", req, map[string]string{"Content-Type": ct})
			if name == "" {
				require.NotNil(t, gerr)
				assert.Equal(t, int32(400), gerr.Code)
				continue
			}
			require.Nil(t, gerr)
			rsp := new(greeterpb.HelloResponse)
			require.NoError(t, rsp.MicrohostDecodeProto(out))
			assert.Equal(t, "Hello "+name, rsp.GetGreeting())
			want := protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "Hello "+name)
			assert.Equal(t, want, out)
		}
	}
	// A truncated field and a name that is not UTF-8 are malformed.
	for _, body := range [][]byte{{0x0a, 0x05}, {0x0a, 0x01, 0xff}} {
		_, gerr := guest.Dispatch("Greeter.Hello", body, map[string]string{"Content-Type": "application/protobuf"})
		require.NotNil(t, gerr)
		assert.Equal(t, int32(400), gerr.Code)
		assert.Equal(t, "malformed protobuf request for Greeter.Hello", gerr.Detail)
	}
	// Unknown fields are skipped and a repeated name keeps its last value.
	body := []byte{0x0a, 0x01, 'a', 0x10, 0x07, 0x0a, 0x01, 'b'}
	out, gerr := guest.Dispatch("Greeter.Hello", body, map[string]string{"Content-Type": "application/x-protobuf"})
	require.Nil(t, gerr)
	assert.Equal(t, []byte{0x12, 0x07, 'H', 'e', 'l', 'l', 'o', ' ', 'b'}, out)
}

// The generated registration describes the endpoint with its message names.
func TestDescriptor(t *testing.T) {
	d := guest.Descriptor()
	assert.Equal(t, "greeter", d.Name)
	assert.Equal(t, []abi.Endpoint{{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"}}, d.Endpoints)
}

// JSON is unchanged: the same bytes as before protobuf was added.
func TestJSON(t *testing.T) {
	out, gerr := guest.Dispatch("Greeter.Hello", []byte(`{"name":"John"}`), map[string]string{"Content-Type": "application/json"})
	require.Nil(t, gerr)
	assert.Equal(t, `{"greeting":"Hello John"}`, string(out))
	_, gerr = guest.Dispatch("Greeter.Hello", []byte(`{"name":`), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, "malformed JSON request for Greeter.Hello", gerr.Detail)
}
