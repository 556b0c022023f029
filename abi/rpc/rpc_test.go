//go:build !wasip1

package rpc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/abi/rpc"
	"github.com/microhost/microhost/abi/rpc/rpcproto"
)

func TestIsProtobuf(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/protobuf":                 true,
		"Application/Protobuf; charset=binary": true,
		" application/x-protobuf ":             true,
		"application/octet-stream":             true,
		"application/proto-rpc":                true,
		"application/json":                     false,
		"application/json-rpc":                 false,
		"":                                     false,
		"text/plain":                           false,
		"application/protobufx":                false,
		"application/json; type=application/protobuf": false,
	} {
		assert.Equal(t, want, rpc.IsProtobuf(ct), ct)
	}
}

func TestCallOptions(t *testing.T) {
	assert.Equal(t, rpc.ContentTypeProtobuf, rpc.NewCallOptions().ContentType)
	assert.Equal(t, rpc.ContentTypeProtobuf, rpc.NewCallOptions(rpc.WithContentType("")).ContentType)
	assert.Equal(t, rpc.ContentTypeJSON, rpc.NewCallOptions(rpc.WithContentType(rpc.ContentTypeJSON)).ContentType)
}

// recorder is a Caller that records its call and answers with reply or err.
type recorder struct {
	service, endpoint, contentType string
	body                           []byte
	reply                          []byte
	err                            error
}

func (r *recorder) Call(_ context.Context, service, endpoint, contentType string, body []byte) ([]byte, error) {
	r.service, r.endpoint, r.contentType, r.body = service, endpoint, contentType, body
	return r.reply, r.err
}

func TestInvoke(t *testing.T) {
	ctx := context.Background()
	reply, err := proto.Marshal(wrapperspb.String("out"))
	require.NoError(t, err)

	// Protobuf by default.
	c := &recorder{reply: reply}
	rsp := new(wrapperspb.StringValue)
	require.NoError(t, rpc.Invoke(ctx, c, "svc", "S.M", rpcproto.Of(wrapperspb.String("in")), rpcproto.Of(rsp)))
	assert.Equal(t, "svc", c.service)
	assert.Equal(t, "S.M", c.endpoint)
	assert.Equal(t, rpc.ContentTypeProtobuf, c.contentType)
	want, err := proto.Marshal(wrapperspb.String("in"))
	require.NoError(t, err)
	assert.Equal(t, want, c.body)
	assert.Equal(t, "out", rsp.GetValue())

	// JSON on request.
	c = &recorder{reply: []byte(`{"value":"json out"}`)}
	rsp = new(wrapperspb.StringValue)
	require.NoError(t, rpc.Invoke(ctx, c, "svc", "S.M", rpcproto.Of(wrapperspb.String("in")), rpcproto.Of(rsp), rpc.WithContentType(rpc.ContentTypeJSON)))
	assert.Equal(t, rpc.ContentTypeJSON, c.contentType)
	assert.JSONEq(t, `{"value":"in"}`, string(c.body))
	assert.Equal(t, "json out", rsp.GetValue())

	// The Caller's error comes back unwrapped.
	callErr := &abi.Error{Code: 400, Detail: "no"}
	err = rpc.Invoke(ctx, &recorder{err: callErr}, "svc", "S.M", rpcproto.Of(wrapperspb.String("in")), rpcproto.Of(new(wrapperspb.StringValue)))
	assert.Same(t, callErr, err)

	// A reply that does not decode is an error naming the endpoint and the content type.
	err = rpc.Invoke(ctx, &recorder{reply: []byte{0x0a, 0x05}}, "svc", "S.M", rpcproto.Of(wrapperspb.String("in")), rpcproto.Of(new(wrapperspb.StringValue)))
	assert.ErrorContains(t, err, "call S.M: decode the reply as application/protobuf")
	err = rpc.Invoke(ctx, &recorder{reply: []byte(`{`)}, "svc", "S.M", rpcproto.Of(wrapperspb.String("in")), rpcproto.Of(new(wrapperspb.StringValue)), rpc.WithContentType(rpc.ContentTypeJSON))
	assert.ErrorContains(t, err, "call S.M: decode the reply as application/json")
}

func TestServe(t *testing.T) {
	var seen string
	guest.HandleEndpoint(abi.Endpoint{Name: "Echo.Upper"}, func(r *guest.Request) ([]byte, error) {
		req, rsp := new(wrapperspb.StringValue), new(wrapperspb.StringValue)
		return rpc.Serve(r, rpcproto.Of(req), rpcproto.Of(rsp), func() error {
			seen = req.GetValue()
			if seen == "fail" {
				return guest.Errorf(409, "conflict")
			}
			if seen == "plain" {
				return errors.New("plain error")
			}
			rsp.Value = "<" + seen + ">"
			return nil
		})
	})
	hdr := func(ct string) map[string]string { return map[string]string{"Content-Type": ct} }

	out, gerr := guest.Dispatch("Echo.Upper", []byte(`{"value":"a"}`), hdr("application/json"))
	require.Nil(t, gerr)
	assert.Equal(t, `{"value":"\u003ca\u003e"}`, string(out), "encoding/json, as the greeter always used")

	out, gerr = guest.Dispatch("Echo.Upper", []byte(`{"value":"b"}`), nil)
	require.Nil(t, gerr, "no Content-Type is JSON")
	assert.Equal(t, `{"value":"\u003cb\u003e"}`, string(out))

	in, err := proto.Marshal(wrapperspb.String("c"))
	require.NoError(t, err)
	out, gerr = guest.Dispatch("Echo.Upper", in, hdr("application/octet-stream"))
	require.Nil(t, gerr)
	rsp := new(wrapperspb.StringValue)
	require.NoError(t, proto.Unmarshal(out, rsp))
	assert.Equal(t, "<c>", rsp.GetValue())

	_, gerr = guest.Dispatch("Echo.Upper", []byte(`{"value":`), hdr("application/json"))
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed JSON request for Echo.Upper"}, *gerr)
	_, gerr = guest.Dispatch("Echo.Upper", []byte{0xff}, hdr("application/protobuf"))
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed protobuf request for Echo.Upper"}, *gerr)

	_, gerr = guest.Dispatch("Echo.Upper", []byte(`{"value":"fail"}`), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 409, Detail: "conflict"}, *gerr)
	_, gerr = guest.Dispatch("Echo.Upper", []byte(`{"value":"plain"}`), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 500, Detail: "plain error"}, *gerr)
}

// GuestCaller calls through guest.Call; natively, the SDK's call hook stands in for the host.
func TestGuestCaller(t *testing.T) {
	var got []string
	guest.SetCallHook(func(service, endpoint, contentType string, body []byte) ([]byte, error) {
		got = []string{service, endpoint, contentType, string(body)}
		if service == "down" {
			return nil, guest.Errorf(503, "no node")
		}
		return []byte("reply"), nil
	})
	t.Cleanup(func() { guest.SetCallHook(nil) })

	reply, err := rpc.GuestCaller{}.Call(context.Background(), "svc", "S.M", "application/json", []byte("body"))
	require.NoError(t, err)
	assert.Equal(t, "reply", string(reply))
	assert.Equal(t, []string{"svc", "S.M", "application/json", "body"}, got)

	_, err = rpc.GuestCaller{}.Call(context.Background(), "down", "S.M", "application/json", nil)
	var ge *guest.Error
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, int32(503), ge.Code)

	got = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = rpc.GuestCaller{}.Call(ctx, "svc", "S.M", "application/json", nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, got, "a cancelled call is not made")
}
