// Command greeter is the example handler module: Greeter.Hello answers
// {"name":"John"} with {"greeting":"Hello John"}, in JSON or protobuf.
//
// It is written as Go Micro's "Writing a service" writes one: greeter.proto declares the
// service, protoc generates greeterpb, and this file is the handler. protoc-gen-microhost
// generates greeterpb whole (messages=microhost: the messages, GreeterHandler and
// RegisterGreeterHandler), so the module links no protobuf runtime.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greeter.wasm ./handlers/greeter
package main

import (
	"github.com/microhost/microhost/abi/guest"
	pb "github.com/microhost/microhost/handlers/greeter/greeterpb"
)

// Greeter serves the Greeter service.
type Greeter struct{}

// Hello greets req.Name.
func (g *Greeter) Hello(req *pb.HelloRequest, rsp *pb.HelloResponse) error {
	if req.Name == "" {
		return guest.BadRequest("name is required")
	}
	rsp.Greeting = "Hello " + req.Name
	return nil
}

func init() {
	guest.Describe("greeter", "1.0.0")
	pb.RegisterGreeterHandler(new(Greeter))
}

func main() {}
