// Command publisher is the example publishing handler: Events.Publish takes
// {"topic":"events","message":{…}} and publishes the message on the topic through the host's
// broker, answering {"published":true}.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o publisher.wasm ./handlers/publisher
package main

import (
	"encoding/json"

	"github.com/microhost/microhost/abi/guest"
)

// PublishRequest is Events.Publish's request.
type PublishRequest struct {
	Topic   string          `json:"topic"`
	Message json.RawMessage `json:"message"`
}

// PublishResponse is Events.Publish's reply.
type PublishResponse struct {
	Published bool `json:"published"`
}

func init() {
	guest.Describe("publisher", "1.0.0")
	guest.HandleJSON("Events.Publish", publish)
}

func publish(req *PublishRequest, rsp *PublishResponse) error {
	if req.Topic == "" {
		return guest.BadRequest("topic is required")
	}
	if len(req.Message) == 0 {
		return guest.BadRequest("message is required")
	}
	if err := guest.Publish(req.Topic, req.Message); err != nil {
		return err
	}
	rsp.Published = true
	return nil
}

func main() {}
