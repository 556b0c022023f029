// Package rpc is the runtime of the code protoc-gen-microhost generates from a .proto file:
// it serves a generated handler's endpoints in JSON or protobuf by the request's
// Content-Type, and carries a generated client's calls to a Caller.
//
// A Caller is whatever makes one call: inside a Go handler module, GuestCaller uses the
// host's service-to-service call import; in an ordinary Go program, the adapter in
// host/client/rpccaller wraps microhost's native client. The package depends on the ABI
// and the guest SDK only, never on the host, so it builds for wasip1.
//
// Streaming methods go the same way: a generated handler serves them with
// HandleServerStream or HandleStream over a HandlerStream, and a generated client opens
// them with OpenServerStream or OpenStream through a Caller that is also a Streamer, getting
// a ClientStream. The generated typed streams are one-line wrappers around these two.
// Only host/client/rpccaller's Caller streams: a module cannot open a stream, so
// GuestCaller's Stream fails with 501.
package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Content types a generated client can send and a generated handler answers in.
const (
	// ContentTypeJSON is JSON, encoded with encoding/json on the generated structs.
	ContentTypeJSON = "application/json"
	// ContentTypeProtobuf is the protobuf binary encoding, the default of generated clients.
	ContentTypeProtobuf = "application/protobuf"
)

// Caller makes one call: it sends body, encoded in contentType, to endpoint
// ("Service.Method") of the service registered as service, and returns the reply body in the
// same content type. A handler's error comes back as the caller's error type (an
// *abi.Error from the native client, a *guest.Error inside a module), unwrapped.
type Caller interface {
	Call(ctx context.Context, service, endpoint, contentType string, body []byte) ([]byte, error)
}

// CallOptions are the settings of one generated client call.
type CallOptions struct {
	// ContentType is the wire content type: ContentTypeProtobuf (the default),
	// ContentTypeJSON, or another content type the server's codecs accept whose bare body is
	// protobuf (application/octet-stream, application/proto-rpc) or JSON
	// (application/json-rpc).
	ContentType string
}

// CallOption changes one call's CallOptions.
type CallOption func(*CallOptions)

// WithContentType sends the call in contentType.
func WithContentType(contentType string) CallOption {
	return func(o *CallOptions) { o.ContentType = contentType }
}

// NewCallOptions applies opts over the defaults.
func NewCallOptions(opts ...CallOption) CallOptions {
	o := CallOptions{ContentType: ContentTypeProtobuf}
	for _, opt := range opts {
		opt(&o)
	}
	if o.ContentType == "" {
		o.ContentType = ContentTypeProtobuf
	}
	return o
}

// IsProtobuf reports whether a body of contentType (parameters and case ignored) is protobuf:
// application/protobuf, application/x-protobuf, application/octet-stream (which Go Micro's
// raw clients send) and application/proto-rpc. Any other content type is JSON.
func IsProtobuf(contentType string) bool {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	switch strings.ToLower(strings.TrimSpace(contentType)) {
	case ContentTypeProtobuf, "application/x-protobuf", "application/octet-stream", "application/proto-rpc":
		return true
	}
	return false
}

// Marshal encodes m as a body of contentType: protobuf when IsProtobuf(contentType), JSON
// otherwise. JSON is what encoding/json writes, through the message's generated
// MicrohostAppendJSON method when it has one.
func Marshal(contentType string, m Message) ([]byte, error) {
	if IsProtobuf(contentType) {
		return m.MicrohostAppendProto(nil)
	}
	return marshalJSON(m)
}

// marshalJSON encodes m as encoding/json does, without reflection when protoc-gen-microhost
// generated m's JSON methods.
func marshalJSON(m Message) ([]byte, error) {
	if c, ok := m.(jsonCodec); ok {
		if b, ok := c.MicrohostAppendJSON(make([]byte, 0, 64)); ok {
			return b, nil
		}
	}
	return json.Marshal(m)
}

// Unmarshal decodes a body of contentType into m: protobuf when IsProtobuf(contentType),
// JSON otherwise. JSON is decoded by encoding/json, into m as it is (fields the body does not
// name keep their values).
func Unmarshal(contentType string, body []byte, m Message) error {
	if IsProtobuf(contentType) {
		return m.MicrohostDecodeProto(body)
	}
	return json.Unmarshal(body, m)
}

// unmarshalNewJSON decodes a JSON body into m, a new message, as encoding/json does: through
// m's generated MicrohostDecodeJSON method when it has one and the body is one it reads on
// its own, by encoding/json otherwise (on a reset message, so the outcome, error included, is
// encoding/json's).
func unmarshalNewJSON(body []byte, m Message) error {
	if c, ok := m.(jsonCodec); ok {
		r := NewJSONReader(body)
		c.MicrohostDecodeJSON(&r)
		if r.Done() {
			return nil
		}
		m.MicrohostReset()
	}
	return json.Unmarshal(body, m)
}

// Invoke is the body of every generated client method: it encodes req in the call's content
// type, calls endpoint of service through c and decodes the reply into rsp, a new message
// (a JSON reply that names only some fields leaves the rest zero). An error from c
// is returned as it is, so a handler's error keeps its type and code.
func Invoke(ctx context.Context, c Caller, service, endpoint string, req, rsp Message, opts ...CallOption) error {
	o := NewCallOptions(opts...)
	body, err := Marshal(o.ContentType, req)
	if err != nil {
		return fmt.Errorf("call %s: encode the request as %s: %w", endpoint, o.ContentType, err)
	}
	reply, err := c.Call(ctx, service, endpoint, o.ContentType, body)
	if err != nil {
		return err
	}
	if IsProtobuf(o.ContentType) {
		err = rsp.MicrohostDecodeProto(reply)
	} else {
		// rsp is a generated client's new reply.
		err = unmarshalNewJSON(reply, rsp)
	}
	if err != nil {
		return fmt.Errorf("call %s: decode the reply as %s: %w", endpoint, o.ContentType, err)
	}
	return nil
}
