package component

import (
	"context"

	"github.com/microhost/microhost/abi"
)

// BrokerProtocol is the broker kind: the sans-I/O part of publish/subscribe. The host owns
// the delivery listener, the HTTP client, the registry and the retries; the protocol decides
// what goes on the wire and who gets a publication. Errors a caller should answer with a
// 4xx (a bad topic, a malformed delivery) are *abi.Error values carrying that code.
//
// The operations and their records are specified in abi/broker.md; their protobuf schema is
// abi/proto/broker.proto.
type BrokerProtocol interface {
	// Encode returns the body of the delivery of a publication, as POSTed to subscribers.
	Encode(ctx context.Context, msg *BrokerMessage) ([]byte, error)
	// Parse validates a delivery the broker's listener received and returns the message and
	// the subscriber it is addressed to.
	Parse(ctx context.Context, req *BrokerParseRequest) (*BrokerDelivery, error)
	// Route decides which subscriber nodes get a publication: every broadcast subscriber of
	// its topic and one subscriber of each queue group, and where to send each delivery.
	Route(ctx context.Context, req *BrokerRouteRequest) (*BrokerRoutes, error)
}

// BrokerTwin is what a broker's native twin puts in Twin.Native.
type BrokerTwin struct {
	// Protocol is the twin's implementation of the kind.
	Protocol BrokerProtocol
}

// The operations of a broker module: the endpoints its descriptor lists.
const (
	BrokerOpEncode = "encode"
	BrokerOpParse  = "parse"
	BrokerOpRoute  = "route"
)

// BrokerOps lists the operations every broker module serves.
func BrokerOps() []string { return []string{BrokerOpEncode, BrokerOpParse, BrokerOpRoute} }

// Names the host uses to register subscribers in the registry and to find them: every
// subscriber is a node of the service BrokerServiceName whose version is its queue group,
// or BrokerBroadcastVersion when it is in none, with the node metadata BrokerMetaBroker =
// "http", BrokerMetaTopic = its topic and BrokerMetaSecure = "true" or "false". These are Go
// Micro's HTTP broker's names, which a broker module routes by.
const (
	BrokerServiceName      = "micro.http.broker"
	BrokerBroadcastVersion = "ff.http.broadcast"
	BrokerMetaBroker       = "broker"
	BrokerMetaTopic        = "topic"
	BrokerMetaSecure       = "secure"
)

// BrokerMessage is a publication: its topic, its headers (Content-Type, Micro-Id and any
// metadata) and its body.
type BrokerMessage struct {
	Topic  string
	Header map[string]string
	Body   []byte
}

// BrokerParseRequest is a delivery as the broker's listener received it: the HTTP method,
// the raw query of the request URL, its Content-Type ("" when absent) and its body.
type BrokerParseRequest struct {
	Method      string
	Query       string
	ContentType string
	Body        []byte
}

// BrokerDelivery is a parsed delivery: the subscriber node it is addressed to, and the
// message. Header holds every header of the message, the one carrying the topic included.
type BrokerDelivery struct {
	ID     string
	Topic  string
	Header map[string]string
	Body   []byte
}

// BrokerRouteRequest is the input of Route: the topic, the registry's services named
// BrokerServiceName (only their name, version and nodes matter), and the seed that picks
// one node per queue group. The same request always gives the same routes.
type BrokerRouteRequest struct {
	Topic    string
	Seed     uint64
	Services []*abi.Service
}

// BrokerRoutes is the output of Route: the content type of the deliveries and where to send
// them.
type BrokerRoutes struct {
	ContentType string
	Targets     []BrokerTarget
}

// BrokerTarget is one subscriber node a publication goes to.
type BrokerTarget struct {
	// ID is the node's id.
	ID string
	// Address is the node's host:port.
	Address string
	// URL is where to POST the delivery.
	URL string
}

// HandleBroker runs operation op of p on the input record in and returns the output
// record, as a broker module serves its operations (abi/broker.md): it is the one guest
// entry point of Go broker modules, and what their native twins are checked against. An
// input it cannot decode is a 400 and an unknown operation a 404, as *abi.Error values; the
// errors of p come back as they are.
func HandleBroker(ctx context.Context, p BrokerProtocol, op string, in []byte) ([]byte, error) {
	switch op {
	case BrokerOpEncode:
		msg, err := UnmarshalBrokerMessage(in)
		if err != nil {
			return nil, abi.NewError("", 400, "%s: malformed input: %v", op, err)
		}
		body, err := p.Encode(ctx, msg)
		if err != nil {
			return nil, err
		}
		return AppendBrokerEncoded(make([]byte, 0, len(body)+8), body), nil
	case BrokerOpParse:
		req, err := UnmarshalBrokerParseRequest(in)
		if err != nil {
			return nil, abi.NewError("", 400, "%s: malformed input: %v", op, err)
		}
		d, err := p.Parse(ctx, req)
		if err != nil {
			return nil, err
		}
		return AppendBrokerDelivery(nil, d), nil
	case BrokerOpRoute:
		req, err := UnmarshalBrokerRouteRequest(in)
		if err != nil {
			return nil, abi.NewError("", 400, "%s: malformed input: %v", op, err)
		}
		r, err := p.Route(ctx, req)
		if err != nil {
			return nil, err
		}
		return AppendBrokerRoutes(nil, r), nil
	}
	return nil, abi.NewError("", 404, "unknown operation %q (known: encode, parse, route)", op)
}
