package guest

import "github.com/microhost/microhost/abi"

// Subscribe registers fn for the messages published on topic. The host calls a subscriber
// with the topic as the endpoint and the message body as the body; the message's headers
// (Content-Type, Micro-Topic, Micro-Id and the publisher's metadata) are the request's
// headers. Returning an error fails the delivery: an *Error's 4xx code tells the publisher
// not to retry, anything else is retried for a while. Call it from init, after
// DescribeKind(abi.KindSubscriber, …).
func Subscribe(topic string, fn func(msg *Request) error) {
	HandleEndpoint(abi.Endpoint{Name: topic, Metadata: map[string]string{"subscriber": "true", "topic": topic}},
		func(req *Request) ([]byte, error) {
			return nil, fn(req)
		})
}
