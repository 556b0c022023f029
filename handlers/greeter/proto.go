package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

// Greeter.Hello also speaks protobuf, with the messages of greeter.proto (Go Micro's greeter
// example): HelloRequest{string name = 1} and HelloResponse{string greeting = 2}. They are
// encoded by hand with protowire, which keeps the module free of protobuf reflection.

// Field numbers of greeter.proto.
const (
	fieldName     protowire.Number = 1
	fieldGreeting protowire.Number = 2
)

// handleHello registers Greeter.Hello: a request whose Content-Type is application/protobuf
// (or application/octet-stream, which Go Micro's raw clients send) is protobuf, any other is
// JSON, served as guest.HandleJSON serves it.
func handleHello() {
	e := abi.Endpoint{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse"}
	guest.HandleEndpoint(e, func(req *guest.Request) ([]byte, error) {
		if isProtobuf(req) {
			return helloProtobuf(req)
		}
		return helloJSON(req)
	})
}

func isProtobuf(req *guest.Request) bool {
	ct, _ := req.Header("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "application/protobuf", "application/x-protobuf", "application/octet-stream":
		return true
	}
	return false
}

// helloJSON is the JSON path, exactly as guest.HandleJSON would run hello.
func helloJSON(req *guest.Request) ([]byte, error) {
	in, out := new(HelloRequest), new(HelloResponse)
	if err := json.Unmarshal(req.Body, in); err != nil {
		guest.Log(abi.LogDebug, fmt.Sprintf("malformed JSON request for %s: %v", req.Endpoint, err))
		return nil, guest.BadRequest("malformed JSON request for %s", req.Endpoint)
	}
	if err := hello(in, out); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// helloProtobuf decodes a protobuf HelloRequest, runs hello and encodes its HelloResponse.
func helloProtobuf(req *guest.Request) ([]byte, error) {
	in, out := new(HelloRequest), new(HelloResponse)
	if err := unmarshalHelloRequest(req.Body, in); err != nil {
		return nil, guest.BadRequest("malformed protobuf request for %s: %v", req.Endpoint, err)
	}
	if err := hello(in, out); err != nil {
		return nil, err
	}
	return appendHelloResponse(nil, out), nil
}

// unmarshalHelloRequest reads HelloRequest; unknown fields are skipped and a repeated name
// keeps its last value, as protobuf requires.
func unmarshalHelloRequest(b []byte, m *HelloRequest) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == fieldName && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if !utf8.Valid(v) {
				return errors.New("name is not valid UTF-8")
			}
			m.Name = string(v)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// appendHelloResponse appends HelloResponse's encoding to dst (an empty greeting is left out,
// as proto3 does).
func appendHelloResponse(dst []byte, m *HelloResponse) []byte {
	if m.Greeting == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, fieldGreeting, protowire.BytesType)
	return protowire.AppendString(dst, m.Greeting)
}
