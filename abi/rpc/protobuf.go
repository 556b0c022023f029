package rpc

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is the runtime of the protobuf methods protoc-gen-microhost generates for the
// message types it declares itself (messages=microhost): MicrohostAppendProto and
// MicrohostDecodeProto. They write and read the protobuf binary encoding as the protobuf
// runtime does for protoc-gen-go's types, field for field and byte for byte; the differential
// tests in ownwire_test.go hold the two equal.

// ProtoDepthLimit is how deep messages may nest in a body that generated code decodes: the
// protobuf runtime's default recursion limit, so the same bodies are refused.
const ProtoDepthLimit = 10000

// ErrProtoDepth is the error of generated code for a body whose messages nest deeper than
// ProtoDepthLimit.
var ErrProtoDepth = errors.New("protobuf: exceeded maximum recursion depth")

// ErrProtoFieldNumber is the error of generated code for a field number above
// protowire.MaxValidNumber, which the protobuf runtime refuses too.
var ErrProtoFieldNumber = errors.New("protobuf: invalid field number")

// ProtoInvalidUTF8 is the error of generated code for a string field, named in full, whose
// value is not valid UTF-8, which proto3 forbids both ways.
func ProtoInvalidUTF8(field string) error {
	return fmt.Errorf("protobuf: field %s contains invalid UTF-8", field)
}

// ProtoLengthPrefix puts the varint length of b[start:] before it: generated code appends a
// length-delimited value (a message, a packed list) at start, then calls it.
func ProtoLengthPrefix(b []byte, start int) []byte {
	n := len(b) - start
	size := protowire.SizeVarint(uint64(n))
	for range size {
		b = append(b, 0)
	}
	copy(b[start+size:], b[start:start+n])
	protowire.AppendVarint(b[:start], uint64(n))
	return b
}
