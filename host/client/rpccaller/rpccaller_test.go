package rpccaller

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi/rpc"
	"github.com/microhost/microhost/host/client"
)

type fakeClient struct {
	got  *client.Request
	opts int
}

func (f *fakeClient) Call(_ context.Context, req *client.Request, opts ...client.CallOption) ([]byte, error) {
	f.got, f.opts = req, len(opts)
	return []byte("reply"), nil
}

var _ Client = (*client.Client)(nil)

var _ rpc.Caller = (*Caller)(nil)

func TestCall(t *testing.T) {
	f := &fakeClient{}
	c := New(f, client.WithRetries(2))
	reply, err := c.Call(context.Background(), "greeter", "Greeter.Hello", "application/protobuf", []byte("body"))
	require.NoError(t, err)
	assert.Equal(t, "reply", string(reply))
	assert.Equal(t, &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", ContentType: "application/protobuf", Body: []byte("body")}, f.got)

	md := c.WithMetadata(map[string]string{"a": "1", "b": "2"}).WithMetadata(map[string]string{"b": "3"})
	_, err = md.Call(context.Background(), "greeter", "Greeter.Hello", "application/json", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "3"}, f.got.Metadata)
	assert.Equal(t, 1, f.opts, "the call options travel with every call")

	_, err = c.Call(context.Background(), "greeter", "Greeter.Hello", "application/json", nil)
	require.NoError(t, err)
	assert.Nil(t, f.got.Metadata, "WithMetadata leaves the original alone")
}

// fakeStreamClient is a fakeClient that also opens streams.
type fakeStreamClient struct {
	fakeClient
	stream *client.Stream
	err    error
}

func (f *fakeStreamClient) Stream(_ context.Context, req *client.Request, opts ...client.CallOption) (*client.Stream, error) {
	f.got, f.opts = req, len(opts)
	return f.stream, f.err
}

var _ StreamClient = (*client.Client)(nil)

var _ rpc.Streamer = (*Caller)(nil)

func TestStream(t *testing.T) {
	ctx := context.Background()
	f := &fakeStreamClient{stream: &client.Stream{}}
	c := New(f, client.WithRetries(2)).WithMetadata(map[string]string{"a": "1"})
	s, err := c.Stream(ctx, "counter", "Counter.Echo", "application/json", []byte("first"))
	require.NoError(t, err)
	assert.Same(t, f.stream, s, "the client's stream is the raw stream")
	assert.Equal(t, &client.Request{Service: "counter", Endpoint: "Counter.Echo", ContentType: "application/json",
		Metadata: map[string]string{"a": "1"}, Body: []byte("first")}, f.got)
	assert.Equal(t, 1, f.opts, "the call options travel with every stream")

	f = &fakeStreamClient{err: errors.New("no node")}
	s, err = New(f).Stream(ctx, "counter", "Counter.Echo", "application/json", nil)
	require.EqualError(t, err, "no node")
	assert.Nil(t, s, "no stream, not a nil *client.Stream in an interface")

	_, err = New(&fakeClient{}).Stream(ctx, "counter", "Counter.Echo", "application/json", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot open streams")
}
