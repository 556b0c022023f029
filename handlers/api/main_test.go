//go:build !wasip1

package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/guest"
)

// The handler logic, natively, with the call to the greeter served by a hook.
func TestGreet(t *testing.T) {
	var called string
	guest.SetCallHook(func(service, endpoint, contentType string, body []byte) ([]byte, error) {
		called = service + " " + endpoint + " " + contentType + " " + string(body)
		var in helloRequest
		if err := json.Unmarshal(body, &in); err != nil || in.Name == "" {
			return nil, guest.BadRequest("name is required")
		}
		return json.Marshal(helloResponse{Greeting: "Hello " + in.Name})
	})
	t.Cleanup(func() { guest.SetCallHook(nil) })

	out, gerr := guest.Dispatch("Api.Greet", []byte(`{"name":"John"}`), nil)
	require.Nil(t, gerr)
	assert.JSONEq(t, `{"message":"Hello John","from":"greeter"}`, string(out))
	assert.Equal(t, `greeter Greeter.Hello application/json {"name":"John"}`, called)

	_, gerr = guest.Dispatch("Api.Greet", []byte(`{"name":""}`), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, int32(400), gerr.Code)
	assert.Equal(t, "name is required", gerr.Detail)
}

func TestGreetWithoutHost(t *testing.T) {
	_, gerr := guest.Dispatch("Api.Greet", []byte(`{"name":"John"}`), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, int32(503), gerr.Code)
}
