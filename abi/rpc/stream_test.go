//go:build !wasip1

package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
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

func hdr(ct string) map[string]string { return map[string]string{"Content-Type": ct} }

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// recv receives s's next message into m, a protobuf runtime message, and returns it.
func recv[M proto.Message](s interface{ RecvMsg(rpc.Message) error }, m M) (M, error) {
	if err := s.RecvMsg(rpcproto.Of(m)); err != nil {
		var zero M
		return zero, err
	}
	return m, nil
}

// closeAndRecv ends s, receiving the reply into m, and returns it.
func closeAndRecv[M proto.Message](s *rpc.ClientStream, m M) (M, error) {
	if err := s.CloseAndRecv(rpcproto.Of(m)); err != nil {
		var zero M
		return zero, err
	}
	return m, nil
}

// A server-streaming endpoint decodes its request from the opening body, and sends each
// message in the request's content type.
func TestHandleServerStream(t *testing.T) {
	rpc.HandleServerStream(abi.Endpoint{Name: "Stream.Count"}, func(s *rpc.HandlerStream) error {
		req := new(wrapperspb.Int64Value)
		if err := s.Request(rpcproto.Of(req)); err != nil {
			return err
		}
		for n := int64(1); n <= req.GetValue(); n++ {
			if err := s.SendMsg(rpcproto.Of(wrapperspb.Int64(n))); err != nil {
				return err
			}
		}
		return nil
	})

	out, gerr := guest.DispatchStream("Stream.Count", []byte(`{"value":2}`), hdr("application/json"), nil)
	require.Nil(t, gerr)
	assert.Equal(t, [][]byte{[]byte(`{"value":1}`), []byte(`{"value":2}`)}, out)

	out, gerr = guest.DispatchStream("Stream.Count", mustMarshal(t, wrapperspb.Int64(1)), hdr("application/protobuf"), nil)
	require.Nil(t, gerr)
	assert.Equal(t, [][]byte{mustMarshal(t, wrapperspb.Int64(1))}, out)

	out, gerr = guest.DispatchStream("Stream.Count", nil, hdr("application/octet-stream"), nil)
	require.Nil(t, gerr, "an empty protobuf body is a request with every field at its default")
	assert.Empty(t, out)

	_, gerr = guest.DispatchStream("Stream.Count", []byte(`{"value":`), nil, nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed JSON request for Stream.Count"}, *gerr)
	_, gerr = guest.DispatchStream("Stream.Count", []byte{0xff}, hdr("application/protobuf"), nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed protobuf request for Stream.Count"}, *gerr)

	_, gerr = guest.Dispatch("Stream.Count", []byte(`{"value":1}`), nil)
	require.NotNil(t, gerr, "a unary call cannot send")
	assert.Equal(t, int32(400), gerr.Code)

	ep := guest.Descriptor().Endpoints
	assert.Equal(t, "true", ep[len(ep)-1].Metadata["stream"])
}

// A client-streaming or bidirectional endpoint receives the opening body first when it is
// not empty, then the client's messages, then io.EOF.
func TestHandleStream(t *testing.T) {
	var eof error
	rpc.HandleStream(abi.Endpoint{Name: "Stream.Echo"}, func(s *rpc.HandlerStream) error {
		for {
			msg, err := recv(s, new(wrapperspb.StringValue))
			if err != nil {
				eof = err
				if errors.Is(err, io.EOF) {
					return nil
				}
				assert.Nil(t, msg, "no message with an error")
				return err
			}
			msg.Value = "<" + msg.GetValue() + ">"
			if err := s.SendMsg(rpcproto.Of(msg)); err != nil {
				return err
			}
		}
	})

	out, gerr := guest.DispatchStream("Stream.Echo", []byte(`{"value":"a"}`), nil, [][]byte{[]byte(`{"value":"b"}`), []byte(`{}`)})
	require.Nil(t, gerr)
	assert.Equal(t, []string{`{"value":"\u003ca\u003e"}`, `{"value":"\u003cb\u003e"}`, `{"value":"\u003c\u003e"}`}, strs(out))
	assert.Equal(t, io.EOF, eof, "io.EOF itself, not wrapped")

	out, gerr = guest.DispatchStream("Stream.Echo", nil, hdr("application/protobuf"), [][]byte{{}, mustMarshal(t, wrapperspb.String("x"))})
	require.Nil(t, gerr)
	assert.Equal(t, [][]byte{mustMarshal(t, wrapperspb.String("<>")), mustMarshal(t, wrapperspb.String("<x>"))}, out,
		"an empty opening body is no message; an empty message after it is one")

	out, gerr = guest.DispatchStream("Stream.Echo", nil, hdr("application/protobuf"), [][]byte{mustMarshal(t, wrapperspb.String("ok")), {0xff}})
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed protobuf message for Stream.Echo"}, *gerr)
	assert.Len(t, out, 1, "the messages before the bad one were answered")
	_, gerr = guest.DispatchStream("Stream.Echo", []byte(`nope`), nil, nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 400, Detail: "malformed JSON message for Stream.Echo"}, *gerr)
}

// SendAndClose sends the one reply of a client-streaming method; nothing may follow it.
func TestSendAndClose(t *testing.T) {
	rpc.HandleStream(abi.Endpoint{Name: "Stream.Sum"}, func(s *rpc.HandlerStream) error {
		var sum int64
		for {
			n, err := recv(s, new(wrapperspb.Int64Value))
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			sum += n.GetValue()
		}
		if err := s.SendAndClose(rpcproto.Of(wrapperspb.Int64(sum))); err != nil {
			return err
		}
		if sum == 13 {
			return s.SendMsg(rpcproto.Of(wrapperspb.Int64(0)))
		}
		return nil
	})
	out, gerr := guest.DispatchStream("Stream.Sum", []byte(`{"value":1}`), nil, [][]byte{[]byte(`{"value":2}`)})
	require.Nil(t, gerr)
	assert.Equal(t, []string{`{"value":3}`}, strs(out))

	out, gerr = guest.DispatchStream("Stream.Sum", []byte(`{"value":13}`), nil, nil)
	require.NotNil(t, gerr)
	assert.Equal(t, guest.Error{Code: 500, Detail: "stream Stream.Sum: send after SendAndClose"}, *gerr)
	assert.Len(t, out, 1)
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

// fakeStreamer opens one fakeStream and records how.
type fakeStreamer struct {
	recorder
	stream  *fakeStream
	openErr error
}

func (f *fakeStreamer) Stream(_ context.Context, service, endpoint, contentType string, first []byte) (rpc.RawStream, error) {
	f.service, f.endpoint, f.contentType, f.body = service, endpoint, contentType, first
	if f.openErr != nil {
		return nil, f.openErr
	}
	return f.stream, nil
}

// fakeStream replies with its in messages, then err or io.EOF, recording what is sent.
type fakeStream struct {
	sent               [][]byte
	in                 [][]byte
	err, closeSendErr  error
	sendClosed, closed bool
}

func (f *fakeStream) Send(msg []byte) error {
	f.sent = append(f.sent, bytes.Clone(msg))
	return nil
}

func (f *fakeStream) CloseSend() error {
	f.sendClosed = true
	return f.closeSendErr
}

func (f *fakeStream) Recv() ([]byte, error) {
	if len(f.in) > 0 {
		msg := f.in[0]
		f.in = f.in[1:]
		return msg, nil
	}
	if f.err != nil {
		return nil, f.err
	}
	return nil, io.EOF
}

func (f *fakeStream) Close() error {
	f.closed = true
	return nil
}

func TestOpenServerStream(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStream{in: [][]byte{mustMarshal(t, wrapperspb.String("a")), {}}}
	c := &fakeStreamer{stream: fs}
	s, err := rpc.OpenServerStream(ctx, c, "svc", "S.Watch", rpcproto.Of(wrapperspb.String("req")))
	require.NoError(t, err)
	assert.Equal(t, []string{"svc", "S.Watch", rpc.ContentTypeProtobuf}, []string{c.service, c.endpoint, c.contentType})
	assert.Equal(t, mustMarshal(t, wrapperspb.String("req")), c.body, "the request is the opening message")
	assert.True(t, fs.sendClosed, "nothing follows the request")

	msg, err := recv(s, new(wrapperspb.StringValue))
	require.NoError(t, err)
	assert.Equal(t, "a", msg.GetValue())
	msg, err = recv(s, new(wrapperspb.StringValue))
	require.NoError(t, err)
	assert.Empty(t, msg.GetValue(), "an empty message is one")
	_, err = recv(s, new(wrapperspb.StringValue))
	assert.Equal(t, io.EOF, err, "io.EOF itself, not wrapped")
	require.NoError(t, s.Close())
	assert.True(t, fs.closed)

	// JSON, a message that does not decode, and the error that ended the stream.
	handlerErr := &guest.Error{Code: 409, Detail: "conflict"}
	fs = &fakeStream{in: [][]byte{[]byte(`{`)}, err: handlerErr}
	c = &fakeStreamer{stream: fs}
	s, err = rpc.OpenServerStream(ctx, c, "svc", "S.Watch", rpcproto.Of(wrapperspb.String("req")), rpc.WithContentType(rpc.ContentTypeJSON))
	require.NoError(t, err)
	assert.JSONEq(t, `{"value":"req"}`, string(c.body))
	_, err = recv(s, new(wrapperspb.StringValue))
	assert.ErrorContains(t, err, "stream S.Watch: decode a message as application/json")
	_, err = recv(s, new(wrapperspb.StringValue))
	assert.Same(t, handlerErr, err, "the handler's error as the Streamer returned it")

	// A CloseSend that fails releases the stream.
	fs = &fakeStream{closeSendErr: errors.New("broken pipe")}
	_, err = rpc.OpenServerStream(ctx, &fakeStreamer{stream: fs}, "svc", "S.Watch", rpcproto.Of(wrapperspb.String("req")))
	assert.EqualError(t, err, "broken pipe")
	assert.True(t, fs.closed)

	_, err = rpc.OpenServerStream(ctx, &fakeStreamer{openErr: handlerErr}, "svc", "S.Watch", rpcproto.Of(wrapperspb.String("req")))
	assert.Same(t, handlerErr, err)
}

func TestOpenStream(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStream{in: [][]byte{[]byte(`{"value":"b"}`)}}
	c := &fakeStreamer{stream: fs}
	s, err := rpc.OpenStream(ctx, c, "svc", "S.Sync", rpc.WithContentType(rpc.ContentTypeJSON))
	require.NoError(t, err)
	assert.Empty(t, c.body, "the opening request carries no message")
	assert.Equal(t, rpc.ContentTypeJSON, c.contentType)
	require.NoError(t, s.SendMsg(rpcproto.Of(wrapperspb.String("a"))))
	assert.Equal(t, []string{`{"value":"a"}`}, strs(fs.sent))
	require.NoError(t, s.CloseSend())
	assert.True(t, fs.sendClosed)
	msg, err := recv(s, new(wrapperspb.StringValue))
	require.NoError(t, err)
	assert.Equal(t, "b", msg.GetValue())

	_, err = rpc.OpenStream(ctx, &recorder{}, "svc", "S.Sync")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not implement rpc.Streamer")
}

func TestCloseAndRecv(t *testing.T) {
	ctx := context.Background()
	handlerErr := &guest.Error{Code: 500, Detail: "failed after replying"}
	for name, tc := range map[string]struct {
		in      [][]byte
		err     error
		want    string
		wantErr func(error) bool
	}{
		"one reply": {in: [][]byte{[]byte(`{"value":"r"}`)}, want: "r"},
		"no reply":  {wantErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		"two replies": {in: [][]byte{[]byte(`{}`), []byte(`{}`)}, wantErr: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "more than one reply")
		}},
		"error after reply": {in: [][]byte{[]byte(`{}`)}, err: handlerErr, wantErr: func(err error) bool { return errors.Is(err, handlerErr) }},
		"error, no reply":   {err: handlerErr, wantErr: func(err error) bool { return errors.Is(err, handlerErr) }},
	} {
		t.Run(name, func(t *testing.T) {
			fs := &fakeStream{in: tc.in, err: tc.err}
			s, err := rpc.OpenStream(ctx, &fakeStreamer{stream: fs}, "svc", "S.Upload", rpc.WithContentType(rpc.ContentTypeJSON))
			require.NoError(t, err)
			rsp, err := closeAndRecv(s, new(wrapperspb.StringValue))
			assert.True(t, fs.sendClosed)
			assert.True(t, fs.closed, "CloseAndRecv releases the stream")
			if tc.wantErr != nil {
				assert.True(t, tc.wantErr(err), "%v", err)
				assert.Nil(t, rsp)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, rsp.GetValue())
		})
	}
}

// Inside a module a stream cannot be opened.
func TestGuestCallerStream(t *testing.T) {
	_, err := rpc.OpenStream(context.Background(), rpc.GuestCaller{}, "svc", "S.Sync")
	var ge *guest.Error
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, int32(501), ge.Code)
	assert.Equal(t, "stream S.Sync of svc: streams from inside a module are not supported: the host has no import to open one", ge.Detail)
}
