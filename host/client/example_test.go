package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/localregistry"
)

// A Go program calls the greeter by name: the client finds it in the embedded registry,
// picks a node, and retries another one if the first cannot be reached.
func Example() {
	reg, err := localregistry.New(localregistry.DefaultDir())
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(reg, client.Options{Codecs: stockCodecs()})
	defer c.Close()

	ctx := client.NewContext(context.Background(), map[string]string{"X-Trace": "42"})
	rsp, err := c.Do(ctx, &client.Request{
		Service:  "greeter",
		Endpoint: "Greeter.Hello",
		Body:     []byte(`{"name":"John"}`),
	}, client.WithTimeout(2*time.Second), client.WithVersion("1.0.0"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %s\n", rsp.Body, rsp.Node.Address)
}

// CallJSON encodes the request and decodes the reply.
func ExampleClient_CallJSON() {
	reg, err := localregistry.New(localregistry.DefaultDir())
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(reg, client.Options{Codecs: stockCodecs(), Retries: 2})
	defer c.Close()
	var rsp struct {
		Greeting string `json:"greeting"`
	}
	if err := c.CallJSON(context.Background(), "greeter", "Greeter.Hello", map[string]string{"name": "John"}, &rsp); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rsp.Greeting)
}
