package rpc

// Message is what this package encodes and decodes: a request, a reply, or one message of a
// stream. protoc-gen-microhost gives every message of the files it generates these three
// methods. On protoc-gen-go's messages (the default) they call the protobuf runtime; on the
// messages it generates itself (messages=microhost) they are plain code of their own. So the
// package never links the protobuf runtime itself: a handler module carries it only when its
// messages need it, which is about half of a small Go module's size and start-up time.
//
// A message of a file protoc-gen-microhost did not generate, such as a well-known type
// (google.protobuf.Empty), is adapted by rpcproto.Of; generated code does that itself.
type Message interface {
	// MicrohostAppendProto appends the message's protobuf binary encoding to b.
	MicrohostAppendProto(b []byte) ([]byte, error)
	// MicrohostDecodeProto resets the message, then decodes b, protobuf binary, into it.
	MicrohostDecodeProto(b []byte) error
	// MicrohostReset sets every field of the message to its zero value.
	MicrohostReset()
}
