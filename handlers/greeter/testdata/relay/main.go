// Command relay is a handler module for the greeter's end-to-end test: Relay.Greet greets
// through the generated Greeter client, calling the greeter service through the host.
package main

import (
	"context"

	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/abi/rpc"
	pb "github.com/microhost/microhost/handlers/greeter/greeterpb"
)

// GreetRequest names whom to greet and the content type of the call to the greeter.
type GreetRequest struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
}

// GreetResponse is the greeter's greeting.
type GreetResponse struct {
	Greeting string `json:"greeting"`
}

var greeter = pb.NewGreeterClient("greeter", rpc.GuestCaller{})

func greet(req *GreetRequest, rsp *GreetResponse) error {
	out, err := greeter.Hello(context.Background(), &pb.HelloRequest{Name: req.Name}, rpc.WithContentType(req.ContentType))
	if err != nil {
		return err
	}
	rsp.Greeting = out.Greeting
	return nil
}

func init() {
	guest.Describe("relay", "1.0.0")
	guest.HandleJSON("Relay.Greet", greet)
}

func main() {}
