// Command api is the front of the chain example: Api.Greet takes {"name":"John"}, calls the
// greeter service's Greeter.Hello by name through the host's client pipeline, and answers
// {"message":"Hello John","from":"greeter"}. The caller's metadata travels on to the greeter;
// an error the greeter returns (a 400 for an empty name) comes back with its code.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o api.wasm ./handlers/api
package main

import (
	"encoding/json"

	"github.com/microhost/microhost/abi/guest"
)

// GreetRequest is Api.Greet's request.
type GreetRequest struct {
	Name string `json:"name"`
}

// GreetResponse is Api.Greet's reply: the greeter's greeting and who made it.
type GreetResponse struct {
	Message string `json:"message"`
	From    string `json:"from"`
}

// helloRequest and helloResponse are the greeter's Greeter.Hello messages in JSON.
type helloRequest struct {
	Name string `json:"name"`
}

type helloResponse struct {
	Greeting string `json:"greeting"`
}

// greeterService is the service Api.Greet calls.
const greeterService = "greeter"

func init() {
	guest.Describe("api", "1.0.0")
	guest.HandleJSON("Api.Greet", greet)
}

func greet(req *GreetRequest, rsp *GreetResponse) error {
	body, err := json.Marshal(helloRequest{Name: req.Name})
	if err != nil {
		return err
	}
	reply, err := guest.Call(greeterService, "Greeter.Hello", "application/json", body)
	if err != nil {
		// An *guest.Error: the greeter's code and detail, or the client's (408, 502, 503).
		return err
	}
	var hello helloResponse
	if err := json.Unmarshal(reply, &hello); err != nil {
		return guest.Errorf(502, "the greeter's reply is not JSON: %v", err)
	}
	rsp.Message, rsp.From = hello.Greeting, greeterService
	return nil
}

func main() {}
