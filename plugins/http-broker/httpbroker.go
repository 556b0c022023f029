// Package httpbroker is the protocol logic of Go Micro's inbox-style HTTP broker, with no I/O:
// it turns a publication into the body of an HTTP delivery, parses and validates a delivery a
// subscriber receives, and decides which subscriber nodes get a publication.
//
// The host owns listeners, connections and the registry; this package only computes. It is
// compiled twice: into the host as the native broker protocol, and to WebAssembly by the
// wasm sub-package, as the http-broker plugin. Both answer the operations of Handle with
// byte-identical results.
//
// The wire format is Go Micro v2's: each subscriber registers a node of the service
// "micro.http.broker" whose version is its queue group (or "ff.http.broadcast"), with node
// metadata broker=http, topic=<topic> and secure=false; a publisher POSTs
// {"Header":{…,"Micro-Topic":<topic>},"Body":<base64>} as application/json to
// http://<node address>/?id=<node id>.
package httpbroker

import (
	"context"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// Names and values of the protocol, as Go Micro's HTTP broker uses them.
const (
	// ServiceName is the registry service every subscriber node belongs to.
	ServiceName = component.BrokerServiceName
	// BroadcastVersion is the service version of subscribers outside any queue group.
	BroadcastVersion = component.BrokerBroadcastVersion
	// Path is the URL path deliveries are POSTed to.
	Path = "/"
	// ContentType is the content type of a delivery.
	ContentType = "application/json"
	// HeaderTopic is the message header that carries the topic.
	HeaderTopic = "Micro-Topic"
	// LegacyHeaderTopic carried the topic before Go Micro v2; Parse still accepts it.
	LegacyHeaderTopic = ":topic"
	// MetaBroker, MetaTopic and MetaSecure are the node metadata keys of a subscriber.
	MetaBroker = component.BrokerMetaBroker
	MetaTopic  = component.BrokerMetaTopic
	MetaSecure = component.BrokerMetaSecure
)

// The records of the broker kind, as this package names them.
type (
	// Message is a publication.
	Message = component.BrokerMessage
	// Delivery is a parsed delivery; its Header still holds the Micro-Topic header.
	Delivery = component.BrokerDelivery
	// RouteRequest is the input of Route.
	RouteRequest = component.BrokerRouteRequest
	// Routes is the output of Route.
	Routes = component.BrokerRoutes
	// Target is one subscriber node a publication goes to.
	Target = component.BrokerTarget
)

// Name is the plugin's name: its module is http-broker.wasm, its native twin has this name.
const Name = "http-broker"

// Protocol is the http-broker plugin as the broker kind's interface: Encode, Parse and
// Route below. Its zero value is ready to use.
type Protocol struct{}

var _ component.BrokerProtocol = Protocol{}

// Encode is Encode.
func (Protocol) Encode(_ context.Context, msg *component.BrokerMessage) ([]byte, error) {
	return Encode(msg)
}

// Parse is Parse of the request's method, query, content type and body.
func (Protocol) Parse(_ context.Context, req *component.BrokerParseRequest) (*component.BrokerDelivery, error) {
	return Parse(req.Method, req.Query, req.ContentType, req.Body)
}

// Route is Route.
func (Protocol) Route(_ context.Context, req *component.BrokerRouteRequest) (*component.BrokerRoutes, error) {
	return Route(req)
}

// Twin returns the plugin's native twin, for a catalogue.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindBroker, Name: Name, Native: component.BrokerTwin{Protocol: Protocol{}}}
}

// Encode returns the body of the HTTP delivery of msg: its headers with Micro-Topic set to
// its topic, and its body, base64-encoded. An empty body is written null, whether or not
// msg.Body is nil: the broker kind's records do not tell the two apart.
func Encode(msg *Message) ([]byte, error) {
	if err := checkTopic(msg.Topic); err != nil {
		return nil, err
	}
	h := make(map[string]string, len(msg.Header)+1)
	for k, v := range msg.Header {
		h[k] = v
	}
	h[HeaderTopic] = msg.Topic
	body := msg.Body
	if len(body) == 0 {
		body = nil
	}
	return appendWire(make([]byte, 0, wireLen(h, body)), h, body), nil
}

// Parse validates a delivery: it must be a POST, of content type application/json (or
// none), to a query naming the subscriber id, with a body that is exactly one JSON object of
// Header (string values) and Body (base64), whose headers name the topic. A bad delivery is
// an *abi.Error with the 4xx code to answer.
func Parse(method, query, contentType string, body []byte) (*Delivery, error) {
	if method != "POST" {
		return nil, abi.NewError("", 405, "method %s not allowed: deliveries are POSTed", method)
	}
	if contentType != "" {
		mt, _, _ := strings.Cut(contentType, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), ContentType) {
			return nil, abi.NewError("", 415, "content type %q: a delivery is %s", contentType, ContentType)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, abi.NewError("", 400, "malformed query %q: %v", query, err)
	}
	id := q.Get("id")
	if id == "" {
		return nil, abi.NewError("", 400, "the query names no subscriber id")
	}
	header, msgBody, err := decodeWire(body)
	if err != nil {
		return nil, abi.NewError("", 400, "malformed delivery: %v", err)
	}
	topic := header[HeaderTopic]
	if topic == "" {
		topic = header[LegacyHeaderTopic]
	}
	if topic == "" {
		return nil, abi.NewError("", 400, "the message has no %s header", HeaderTopic)
	}
	return &Delivery{ID: id, Topic: topic, Header: header, Body: msgBody}, nil
}

// Route decides which nodes get a publication on req.Topic: among the nodes of the HTTP
// broker registered for that topic, every node of the broadcast version, and one node of
// each queue group (service version), picked at random from req.Seed. The same request
// always gives the same targets.
func Route(req *RouteRequest) (*Routes, error) {
	if err := checkTopic(req.Topic); err != nil {
		return nil, err
	}
	rng := routeRand(req.Seed)
	out := &Routes{ContentType: ContentType, Targets: []Target{}}
	// A registry may list one queue group in several entries; group them by version.
	groups := map[string][]abi.Node{}
	var versions []string
	for _, svc := range req.Services {
		if svc == nil || svc.Name != ServiceName {
			continue
		}
		for _, n := range svc.Nodes {
			if n.Metadata[MetaBroker] != "http" || n.Metadata[MetaTopic] != req.Topic || n.Address == "" {
				continue
			}
			if _, ok := groups[svc.Version]; !ok {
				versions = append(versions, svc.Version)
			}
			groups[svc.Version] = append(groups[svc.Version], n)
		}
	}
	slices.Sort(versions)
	for _, v := range versions {
		nodes := groups[v]
		slices.SortFunc(nodes, func(a, b abi.Node) int { return strings.Compare(a.ID, b.ID) })
		nodes = slices.CompactFunc(nodes, func(a, b abi.Node) bool { return a.ID == b.ID })
		if v != BroadcastVersion {
			i := rng.IntN(len(nodes))
			nodes = nodes[i : i+1]
		}
		for _, n := range nodes {
			out.Targets = append(out.Targets, target(n))
		}
	}
	return out, nil
}

// routeRand is the random source of a route's picks: the same seed, the same picks.
func routeRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(routeSeeds(seed)))
}

// routeSeeds are the two seeds of the PCG source of a route whose request's seed is seed.
func routeSeeds(seed uint64) (uint64, uint64) { return seed, seed ^ 0x9e3779b97f4a7c15 }

func target(n abi.Node) Target {
	return targetOf(n.ID, n.Address, n.Metadata[MetaSecure] == "true")
}

// targetOf is the target of the node id at address, secure when its metadata says so.
func targetOf(id, address string, secure bool) Target {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: address, Path: Path, RawQuery: url.Values{"id": {id}}.Encode()}
	return Target{ID: id, Address: address, URL: u.String()}
}

// checkTopic refuses a topic that is empty, longer than 1024 bytes, or holds white space or
// NUL. It takes the topic's bytes as well as a string, so that the broker module checks the
// topic in its record without a copy.
func checkTopic[T string | []byte](topic T) error {
	switch {
	case len(topic) == 0:
		return abi.NewError("", 400, "the topic is empty")
	case len(topic) > 1024:
		return abi.NewError("", 400, "the topic is longer than 1024 bytes")
	}
	for i := range len(topic) {
		switch topic[i] {
		case ' ', '\t', '\r', '\n', 0:
			return abi.NewError("", 400, "topic %q contains white space or NUL", topic)
		}
	}
	return nil
}
