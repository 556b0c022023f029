// Package rpcproto adapts a message of the protobuf runtime (any proto.Message) to
// rpc.Message. Code that protoc-gen-microhost generates uses it for the messages of files it
// did not generate itself, such as the well-known types (google.protobuf.Empty); the messages
// of the files it generates carry rpc.Message's methods and need no adapter. It is apart from
// abi/rpc so that only a module that uses such a message links the protobuf runtime.
package rpcproto

import (
	"encoding/json"

	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/abi/rpc"
)

// Of returns m as an rpc.Message: protobuf through the protobuf runtime, JSON through
// encoding/json on m, as for a generated message without JSON methods.
func Of(m proto.Message) rpc.Message {
	return &adapted{m}
}

// adapted is a proto.Message seen as an rpc.Message.
type adapted struct{ m proto.Message }

// MicrohostAppendProto appends m's protobuf binary encoding to b.
func (a *adapted) MicrohostAppendProto(b []byte) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(b, a.m)
}

// MicrohostDecodeProto resets m and decodes b into it.
func (a *adapted) MicrohostDecodeProto(b []byte) error {
	return proto.Unmarshal(b, a.m)
}

// MicrohostReset resets m.
func (a *adapted) MicrohostReset() {
	proto.Reset(a.m)
}

// MarshalJSON encodes m as encoding/json does.
func (a *adapted) MarshalJSON() ([]byte, error) {
	return json.Marshal(a.m)
}

// UnmarshalJSON decodes b into m as encoding/json does.
func (a *adapted) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, a.m)
}
