//go:build !wasip1

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/handlers/greeter/greeterpb"
)

// The hand-written protobuf path agrees with the code generated from greeter.proto.
func TestProtobuf(t *testing.T) {
	for _, name := range []string{"John", "héllo ☃", ""} {
		req, err := proto.Marshal(&greeterpb.HelloRequest{Name: name})
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
			require.NoError(t, proto.Unmarshal(out, rsp))
			assert.Equal(t, "Hello "+name, rsp.GetGreeting())
			want, err := proto.Marshal(rsp)
			require.NoError(t, err)
			assert.Equal(t, want, out)
		}
	}
	_, gerr := guest.Dispatch("Greeter.Hello", []byte{0x0a, 0x05}, map[string]string{"Content-Type": "application/protobuf"})
	require.NotNil(t, gerr)
	assert.Contains(t, gerr.Detail, "malformed protobuf request")
	_, gerr = guest.Dispatch("Greeter.Hello", []byte{0x0a, 0x01, 0xff}, map[string]string{"Content-Type": "application/protobuf"})
	require.NotNil(t, gerr)
	assert.Contains(t, gerr.Detail, "UTF-8")
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
