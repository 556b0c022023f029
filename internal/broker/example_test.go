package broker_test

import (
	"context"
	"fmt"
	"os"

	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/localregistry"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// A Go program publishes to the subscribers of a topic; here the subscriber is in the same
// program, but it could be any microhost or Go Micro service using the same registry.
func ExampleBroker_Publish() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "broker-example-")
	defer os.RemoveAll(dir)
	reg, _ := localregistry.New(dir)

	sub, _ := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}})
	_ = sub.Start(ctx)
	defer sub.Close(ctx)
	got := make(chan string, 1)
	_, _ = sub.Subscribe(ctx, "greetings", "", func(ctx context.Context, ev *broker.Event) error {
		got <- fmt.Sprintf("%s: %s (%s)", ev.Topic, ev.Body, ev.Header["Content-Type"])
		return nil
	})

	pub, _ := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}})
	defer pub.Close(ctx)
	if err := pub.Publish(ctx, "greetings", &broker.Message{Body: []byte(`{"hello":"world"}`)}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-got)
	// Output: greetings: {"hello":"world"} (application/json)
}
