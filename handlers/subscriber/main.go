// Command subscriber is the example subscriber module: it subscribes to the topics "events"
// and "orders", counts the messages each instance receives and logs every one of them, with
// the publisher's X-Trace metadata when the message has it.
// A message whose JSON body has "reject": true is refused with a 400 error, which tells the
// publisher not to retry it.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o subscriber.wasm ./handlers/subscriber
package main

import (
	"encoding/json"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

// received counts the messages this instance handled; an instance lives across calls.
var received int

func init() {
	guest.DescribeKind(abi.KindSubscriber, "subscriber", "1.0.0")
	guest.Subscribe("events", handle)
	guest.Subscribe("orders", handle)
}

func handle(msg *guest.Request) error {
	var body struct {
		Reject bool `json:"reject"`
	}
	if ct, _ := msg.Header("Content-Type"); ct == "application/json" {
		if err := json.Unmarshal(msg.Body, &body); err != nil {
			return guest.BadRequest("malformed JSON message: %v", err)
		}
	}
	if body.Reject {
		return guest.BadRequest("message refused")
	}
	received++
	id, _ := msg.Header("Micro-Id")
	if trace, ok := msg.Header("X-Trace"); ok {
		guest.Logf("received %s message %d (id %s, trace %s): %s", msg.Endpoint, received, id, trace, msg.Body)
		return nil
	}
	guest.Logf("received %s message %d (id %s): %s", msg.Endpoint, received, id, msg.Body)
	return nil
}

func main() {}
