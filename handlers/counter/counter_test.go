//go:build !wasip1

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/guest"
)

func TestCount(t *testing.T) {
	out, err := guest.DispatchStream("Counter.Count", []byte(`{"count":3}`), nil, nil)
	require.Nil(t, err)
	assert.Equal(t, [][]byte{[]byte(`{"n":1}`), []byte(`{"n":2}`), []byte(`{"n":3}`)}, out)

	out, err = guest.DispatchStream("Counter.Count", []byte(`{"count":0}`), nil, nil)
	require.Nil(t, err)
	assert.Empty(t, out)
}

func TestCountFailsAfter(t *testing.T) {
	out, err := guest.DispatchStream("Counter.Count", []byte(`{"count":5,"fail_after":2}`), nil, nil)
	require.NotNil(t, err)
	assert.Equal(t, int32(409), err.Code)
	assert.Len(t, out, 2, "the messages before the failure were sent")
}

func TestCountBadInput(t *testing.T) {
	for _, body := range []string{`{`, `{"count":-1}`, `{"count":1000001}`, `{"count":"3"}`} {
		_, err := guest.DispatchStream("Counter.Count", []byte(body), nil, nil)
		require.NotNil(t, err, body)
		assert.Equal(t, int32(400), err.Code, body)
	}
}

func TestEcho(t *testing.T) {
	in := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}
	out, err := guest.DispatchStream("Counter.Echo", []byte(`{"first":0}`), nil, in)
	require.Nil(t, err)
	assert.Equal(t, [][]byte{[]byte(`{"first":0}`), []byte(`{"a":1}`), []byte(`{"b":2}`)}, out)

	out, err = guest.DispatchStream("Counter.Echo", nil, nil, nil)
	require.Nil(t, err)
	assert.Empty(t, out, "an empty opening message is not echoed")
}

func TestStreamEndpointsCalledUnary(t *testing.T) {
	_, err := guest.Dispatch("Counter.Count", []byte(`{"count":1}`), nil)
	require.NotNil(t, err)
	assert.Equal(t, int32(400), err.Code)
	assert.Contains(t, err.Detail, "not a stream")
}

func TestDescriptorMarksStreams(t *testing.T) {
	for _, e := range guest.Descriptor().Endpoints {
		assert.Equal(t, "true", e.Metadata["stream"], e.Name)
	}
}
