// Command gomicro-greeter serves the greeter with Go Micro v2.9.1 — its server, HTTP transport
// and codecs — as Go Micro's greeter example does, so that the load test can compare microhost
// with the runtime it follows, in a process of its own. It prints "listening ADDRESS" once it
// serves, and stops on SIGINT or SIGTERM.
//
//	go run ./cmd/gomicro-greeter -address 127.0.0.1:0
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	mbroker "github.com/micro/go-micro/v2/broker/memory"
	merrors "github.com/micro/go-micro/v2/errors"
	mregistry "github.com/micro/go-micro/v2/registry/memory"
	mserver "github.com/micro/go-micro/v2/server"
	mtransport "github.com/micro/go-micro/v2/transport"

	"github.com/microhost/microhost/interop/greeterpb"
)

// Greeter is the Go Micro handler: Greeter.Hello greets, or fails with a 400 for no name.
type Greeter struct{}

// Hello greets req.Name.
func (Greeter) Hello(_ context.Context, req *greeterpb.HelloRequest, rsp *greeterpb.HelloResponse) error {
	if req.GetName() == "" {
		return merrors.BadRequest("greeter", "name is required")
	}
	rsp.Greeting = "Hello " + req.GetName()
	return nil
}

func main() {
	addr := flag.String("address", "127.0.0.1:0", "listen address")
	flag.Parse()
	s := mserver.NewServer(
		mserver.Name("greeter"),
		mserver.Address(*addr),
		mserver.Registry(mregistry.NewRegistry()),
		mserver.Broker(mbroker.NewBroker()),
		mserver.Transport(mtransport.NewTransport()),
	)
	if err := s.Handle(s.NewHandler(Greeter{})); err != nil {
		fmt.Fprintln(os.Stderr, "gomicro-greeter:", err)
		os.Exit(1)
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "gomicro-greeter:", err)
		os.Exit(1)
	}
	fmt.Println("listening", s.Options().Address)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = s.Stop()
}
