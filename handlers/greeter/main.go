// Command greeter is the example handler module: Greeter.Hello answers
// {"name":"John"} with {"greeting":"Hello John"}.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greeter.wasm ./handlers/greeter
package main

import (
	"github.com/microhost/microhost/abi/guest"
)

// HelloRequest is Greeter.Hello's request.
type HelloRequest struct {
	Name string `json:"name"`
}

// HelloResponse is Greeter.Hello's reply.
type HelloResponse struct {
	Greeting string `json:"greeting"`
}

func init() {
	guest.Describe("greeter", "1.0.0")
	// JSON as guest.HandleJSON serves it, and protobuf by Content-Type (proto.go).
	handleHello()
}

func hello(req *HelloRequest, rsp *HelloResponse) error {
	if req.Name == "" {
		return guest.BadRequest("name is required")
	}
	rsp.Greeting = "Hello " + req.Name
	return nil
}

func main() {}
