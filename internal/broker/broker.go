// Package broker is the host side of microhost's publish/subscribe: Go Micro's inbox-style
// HTTP broker. Each subscription registers a node in the registry and receives deliveries on
// the broker's own HTTP listener; a publication looks the subscriber nodes up and POSTs the
// message to every broadcast subscriber and to one subscriber of each queue group.
//
// The broker owns the sockets, the registry calls and the retries; what is on the wire and
// who gets a message is decided by a Protocol (the broker kind, component.BrokerProtocol):
// a native twin such as plugins/http-broker's, or a broker module through Wasm.
package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/ports"
)

// Registrar registers and deregisters subscriber nodes.
type Registrar interface {
	Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error
	Deregister(ctx context.Context, svc *abi.Service) error
}

// Lookup finds the registered subscriber nodes. Its error wraps abi.ErrServiceNotFound when
// there are none.
type Lookup interface {
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
}

// Registry is what the broker needs of a registry; the local registry satisfies it.
type Registry interface {
	Registrar
	Lookup
}

// Message is what a publisher publishes: headers (Content-Type and any metadata) and a body.
type Message struct {
	Header map[string]string
	Body   []byte
}

// Event is one message delivered to a subscriber.
type Event struct {
	// Topic is the topic it was published on.
	Topic string
	// Header holds the message's headers, including Micro-Topic and Micro-Id.
	Header map[string]string
	// Body is the message body.
	Body []byte
}

// Handler handles a delivered message. An *abi.Error with a 4xx code tells the publisher not
// to retry; any other error makes it retry for a while.
type Handler func(ctx context.Context, ev *Event) error

// Options configure a Broker. Registry and Protocol are required; the rest have defaults.
type Options struct {
	// Registry registers subscribers and finds them for publications.
	Registry Registry
	// Protocol encodes, parses and routes messages; required.
	Protocol Protocol
	// Address is where deliveries are received: host:port, host:min-max or :0. Empty means
	// DefaultAddress.
	Address string
	// Advertise is the address registered for subscribers when Address is on all interfaces.
	Advertise string
	// TTL is how long a subscriber's registration lives without a refresh; Interval how often
	// it is refreshed. Zero means one minute and 30 seconds, as Go Micro's.
	TTL, Interval time.Duration
	// RetryFor bounds the time in which a failed delivery is tried again, with Backoff
	// (doubling up to a second) between tries; after it the delivery is dropped. Zero means
	// DefaultRetryFor and DefaultBackoff.
	RetryFor, Backoff time.Duration
	// DeliveryTimeout bounds one delivery attempt, subscriber's work included. Zero means
	// DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// HandlerTimeout bounds a local subscriber's handling of one message. Zero means 5 s.
	HandlerTimeout time.Duration
	// MaxBodyBytes caps a delivery's size; larger ones get 413. Zero means 4 MiB.
	MaxBodyBytes int64
	// LookupTTL is how long a registry answer is reused by publishers. Zero means
	// DefaultLookupTTL; negative disables the cache.
	LookupTTL time.Duration
	// Seed returns the seed that picks a queue group's subscriber. Nil means random.
	Seed func() uint64
	// Logger receives the broker's records. Nil discards them.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultAddress         = "127.0.0.1:0"
	DefaultRetryFor        = 5 * time.Second
	DefaultBackoff         = 10 * time.Millisecond
	DefaultDeliveryTimeout = 10 * time.Second
	DefaultLookupTTL       = time.Second
)

// ErrDropped is wrapped by Publish's error when the topic had subscribers and none of them
// got the message.
var ErrDropped = errors.New("delivery dropped")

// ErrClosed is returned by the methods of a closed Broker.
var ErrClosed = errors.New("broker closed")

// Stats counts what a broker did since it started.
type Stats struct {
	// Published counts messages published; Delivered the deliveries subscribers accepted;
	// Retries the attempts after a failed one (at the same node or another); Dropped the deliveries given up on (one per
	// subscriber node); Lost the publications no subscriber of their topic got; Gone the
	// registered nodes found no longer served at their address.
	Published, Delivered, Retries, Dropped, Lost, Gone int64
	// Received counts deliveries this broker's subscribers handled; Failed those whose
	// handler failed; Rejected the malformed or misaddressed ones.
	Received, Failed, Rejected int64
}

type counters struct {
	published, delivered, retries, dropped atomic.Int64
	lost, gone                             atomic.Int64
	received, failed, rejected             atomic.Int64
}

// Broker publishes messages and serves subscriptions. Its methods are safe for concurrent
// use.
type Broker struct {
	opts   Options
	proto  Protocol
	logger *slog.Logger
	client *http.Client
	stats  counters

	mu        sync.RWMutex
	subs      map[string]*Subscription
	ln        net.Listener
	srv       *http.Server
	advertise string
	closed    bool
	stop      chan struct{}
	loopDone  chan struct{}

	cacheMu    sync.Mutex
	cached     []*abi.Service
	cachedTill time.Time
	// goneTill holds the nodes found gone (publication.record) and until when lookups leave
	// them out: the registration's TTL, after which the registry drops them too.
	goneTill map[string]time.Time
}

// New returns a Broker. It publishes at once; call Start before Subscribe.
func New(opts Options) (*Broker, error) {
	if opts.Registry == nil {
		return nil, errors.New("broker: a registry is required")
	}
	if opts.Protocol == nil {
		return nil, errors.New("broker: a protocol is required")
	}
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.TTL, time.Minute)
	def(&opts.Interval, 30*time.Second)
	def(&opts.RetryFor, DefaultRetryFor)
	def(&opts.Backoff, DefaultBackoff)
	def(&opts.DeliveryTimeout, DefaultDeliveryTimeout)
	def(&opts.HandlerTimeout, 5*time.Second)
	def(&opts.LookupTTL, DefaultLookupTTL)
	if opts.Interval >= opts.TTL {
		return nil, fmt.Errorf("broker: interval %s must be shorter than the TTL %s", opts.Interval, opts.TTL)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.Seed == nil {
		opts.Seed = mrand.Uint64
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Broker{
		opts:     opts,
		proto:    opts.Protocol,
		logger:   logger.With("component", "broker"),
		client:   &http.Client{Transport: transport},
		subs:     map[string]*Subscription{},
		goneTill: map[string]time.Time{},
	}, nil
}

// Start binds the delivery listener (the first free port of Address) and serves deliveries
// and the re-registration of subscribers until Close.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.ln != nil:
		return nil
	}
	ln, err := ports.Listen(ctx, "tcp", b.opts.Address)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	adv, err := ports.Advertise(ln.Addr(), b.opts.Advertise, nil)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("broker: advertise address: %w", err)
	}
	b.ln, b.advertise = ln, adv
	b.srv = &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(b.logger.Handler(), slog.LevelWarn),
	}
	b.stop, b.loopDone = make(chan struct{}), make(chan struct{})
	go func() { _ = b.srv.Serve(ln) }()
	go b.refresh(context.WithoutCancel(ctx))
	b.logger.Info("broker listening", "address", ln.Addr().String(), "advertise", adv)
	return nil
}

// Addr returns the address deliveries are received on, or "" before Start.
func (b *Broker) Addr() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	c := &b.stats
	return Stats{
		Published: c.published.Load(), Delivered: c.delivered.Load(), Retries: c.retries.Load(), Dropped: c.dropped.Load(),
		Lost: c.lost.Load(), Gone: c.gone.Load(),
		Received: c.received.Load(), Failed: c.failed.Load(), Rejected: c.rejected.Load(),
	}
}

// Subscription is one subscriber of a topic, registered as one node.
type Subscription struct {
	b        *Broker
	topic    string
	queue    string
	handler  Handler
	record   *abi.Service
	received atomic.Int64
	failed   atomic.Int64
}

// Topic returns the subscribed topic.
func (s *Subscription) Topic() string { return s.topic }

// Queue returns the queue group, or "" for a broadcast subscriber.
func (s *Subscription) Queue() string { return s.queue }

// ID returns the subscriber's node id.
func (s *Subscription) ID() string { return s.record.Nodes[0].ID }

// Received returns how many messages the handler accepted.
func (s *Subscription) Received() int64 { return s.received.Load() }

// Failed returns how many deliveries the handler failed.
func (s *Subscription) Failed() int64 { return s.failed.Load() }

// Subscribe registers h for topic. With a queue name, each message of the topic goes to one
// subscriber of the queue group; without, to every subscriber. The subscriber is registered
// at once and re-registered every interval; if the registry is down now, Subscribe logs it
// and the next interval tries again.
func (b *Broker) Subscribe(ctx context.Context, topic, queue string, h Handler) (*Subscription, error) {
	if h == nil {
		return nil, errors.New("broker: subscribe: nil handler")
	}
	if _, err := b.proto.Route(ctx, &component.BrokerRouteRequest{Topic: topic}); err != nil {
		return nil, fmt.Errorf("broker: subscribe: %w", err)
	}
	version := queue
	if version == "" {
		version = component.BrokerBroadcastVersion
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if b.ln == nil {
		b.mu.Unlock()
		return nil, errors.New("broker: subscribe before Start")
	}
	s := &Subscription{b: b, topic: topic, queue: queue, handler: h, record: &abi.Service{
		Name:    component.BrokerServiceName,
		Version: version,
		Nodes: []abi.Node{{
			ID:      topic + "-broker-" + newUUID(),
			Address: b.advertise,
			Metadata: map[string]string{
				component.BrokerMetaBroker: "http",
				component.BrokerMetaTopic:  topic,
				component.BrokerMetaSecure: "false",
			},
		}},
	}}
	b.subs[s.ID()] = s
	b.mu.Unlock()
	if err := b.opts.Registry.Register(ctx, s.record, b.opts.TTL); err != nil {
		b.logger.Warn("subscriber not registered yet; retrying every interval", "topic", topic, "node", s.ID(), "err", err)
	} else {
		b.logger.Info("subscribed", "topic", topic, "queue", queue, "node", s.ID())
	}
	b.invalidate()
	return s, nil
}

// Unsubscribe deregisters the subscriber and stops its deliveries. It is safe to call more
// than once.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	b := s.b
	b.mu.Lock()
	_, ok := b.subs[s.ID()]
	delete(b.subs, s.ID())
	b.mu.Unlock()
	if !ok {
		return nil
	}
	b.invalidate()
	if err := b.opts.Registry.Deregister(ctx, s.record); err != nil {
		return fmt.Errorf("broker: unsubscribe %s: %w", s.topic, err)
	}
	return nil
}

// refresh re-registers every subscriber each interval until Close.
func (b *Broker) refresh(ctx context.Context) {
	defer close(b.loopDone)
	t := time.NewTicker(b.opts.Interval)
	defer t.Stop()
	healthy := true
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.mu.RLock()
		subs := make([]*Subscription, 0, len(b.subs))
		for _, s := range b.subs {
			subs = append(subs, s)
		}
		b.mu.RUnlock()
		var errs []error
		for _, s := range subs {
			errs = append(errs, b.opts.Registry.Register(ctx, s.record, b.opts.TTL))
		}
		err := errors.Join(errs...)
		switch {
		case err != nil && healthy:
			b.logger.Error("subscriber registration failed; retrying every interval", "err", err)
		case err == nil && !healthy:
			b.logger.Info("subscriber registration restored")
		}
		healthy = err == nil
	}
}

// Close deregisters every subscriber, then stops the listener and waits (bounded by ctx) for
// deliveries in progress. It is safe to call more than once.
func (b *Broker) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = map[string]*Subscription{}
	srv, stop, done := b.srv, b.stop, b.loopDone
	b.mu.Unlock()

	if stop != nil {
		close(stop)
		<-done
	}
	var errs []error
	for _, s := range subs {
		if err := b.opts.Registry.Deregister(ctx, s.record); err != nil {
			errs = append(errs, fmt.Errorf("broker: deregister %s: %w", s.ID(), err))
		}
	}
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("broker: shutdown: %w", err))
		}
	}
	b.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// Publish sends msg to the subscribers of topic: every broadcast subscriber and one of each
// queue group. It returns when each of them has the message or was given up on; a failed
// delivery is retried with backoff for Options.RetryFor, and every retry resolves the
// topic's subscribers from the registry again, so a subscriber that restarted (under a new
// node id) within the window gets the message. The error wraps ErrDropped only when the topic
// had subscribers and none of them got the message; PublishResult says which did. A topic
// with no subscribers is not an error. Content-Type defaults to application/json for a JSON
// body, application/octet-stream otherwise, and Micro-Id to a fresh id.
func (b *Broker) Publish(ctx context.Context, topic string, msg *Message) error {
	_, err := b.PublishResult(ctx, topic, msg)
	return err
}

// PublishCount is Publish that also reports how many subscribers got the message.
func (b *Broker) PublishCount(ctx context.Context, topic string, msg *Message) (int, error) {
	res, err := b.PublishResult(ctx, topic, msg)
	if res == nil {
		return 0, err
	}
	return len(res.Delivered), err
}

// PublishResult says what became of one publication.
type PublishResult struct {
	// Delivered lists the subscriber nodes that accepted the message, in the order they did.
	Delivered []string
	// Failed lists the subscriber nodes given up on: one that refused the message (a 4xx
	// answer) or failed every try within the retry window.
	Failed []DeliveryFailure
	// Gone lists registered nodes whose listener no longer serves them (it answered 404 for
	// their id: the subscriber restarted under a new id, or unsubscribed). They are not
	// failures; the message went to the subscribers the registry lists instead.
	Gone []string
}

// DeliveryFailure is one subscriber node a publication was given up on, and why.
type DeliveryFailure struct {
	Node string
	Err  error
}

// PublishResult is Publish that also reports which subscribers got the message, which were
// given up on and which turned out to be gone. The result is nil only when the publication
// never started (a bad topic, a registry or protocol failure, a closed broker).
func (b *Broker) PublishResult(ctx context.Context, topic string, msg *Message) (*PublishResult, error) {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	header := make(map[string]string, len(msg.Header)+3)
	for k, v := range msg.Header {
		header[k] = v
	}
	if header["Content-Type"] == "" {
		header["Content-Type"] = "application/octet-stream"
		if json.Valid(msg.Body) {
			header["Content-Type"] = "application/json"
		}
	}
	if header["Micro-Id"] == "" {
		header["Micro-Id"] = newUUID()
	}
	body, err := b.proto.Encode(ctx, &component.BrokerMessage{Topic: topic, Header: header, Body: msg.Body})
	if err != nil {
		return nil, fmt.Errorf("broker: publish to %s: %w", topic, err)
	}
	services, err := b.lookup(ctx)
	if err != nil {
		return nil, fmt.Errorf("broker: publish to %s: %w", topic, err)
	}
	p := &publication{b: b, topic: topic, body: body, res: &PublishResult{}, done: map[string]bool{},
		satisfied: map[string]bool{}, suspect: map[string]error{}, group: map[string]string{}, address: map[string]string{}}
	if err := p.run(ctx, services); err != nil {
		return nil, fmt.Errorf("broker: publish to %s: %w", topic, err)
	}
	res := p.res
	if len(res.Delivered) == 0 && len(res.Failed) > 0 {
		b.stats.lost.Add(1)
		errs := make([]error, len(res.Failed))
		for i, f := range res.Failed {
			errs[i] = fmt.Errorf("node %s: %w", f.Node, f.Err)
		}
		return res, fmt.Errorf("broker: publish to %s: %w: no subscriber got it: %w", topic, ErrDropped, errors.Join(errs...))
	}
	return res, nil
}

// publication is the state of one Publish across its delivery rounds.
type publication struct {
	b     *Broker
	topic string
	body  []byte
	res   *PublishResult
	// done holds the nodes never to send to again: delivered, refused or gone.
	done map[string]bool
	// satisfied holds the queue groups that got the message (or refused it).
	satisfied map[string]bool
	// suspect holds the nodes whose last attempt failed in a way worth retrying.
	suspect map[string]error
	// group and address map each node seen to its group (the registered version) and its
	// address.
	group, address map[string]string
	// gone are the nodes found gone, by group and address, until a node of the same group at
	// the same address (the restarted subscriber) gets the message.
	gone []goneNode
	// rounds counts the rounds routed so far.
	rounds int
}

type goneNode struct{ id, group, address string }

// outcome is what one delivery attempt came to.
type outcome int

const (
	delivered outcome = iota
	retryable
	refused
	gone
)

type attemptResult struct {
	target component.BrokerTarget
	outcome
	err error
}

// run delivers in rounds: each round routes the topic over the subscribers the registry
// lists now, leaving out the nodes done with and the queue groups served, and tries each
// target once; failures worth retrying and gone subscribers not yet replaced make another
// round after a backoff, until the retry window closes. Its error is the first round's
// routing error (a bad topic, a failing protocol), before anything was sent.
func (p *publication) run(ctx context.Context, services []*abi.Service) error {
	b := p.b
	deadline := time.Now().Add(b.opts.RetryFor)
	backoff := b.opts.Backoff
	for round := 0; ; round++ {
		if round > 0 {
			if s, err := b.lookup(ctx); err == nil {
				services = s
			} else {
				b.logger.Warn("publish: registry lookup failed; retrying with the last answer", "topic", p.topic, "err", err)
			}
		}
		routes, err := b.proto.Route(ctx, &component.BrokerRouteRequest{Topic: p.topic, Seed: b.opts.Seed(), Services: p.candidates(services)})
		switch {
		case err != nil && round == 0:
			return err
		case err != nil:
			b.logger.Warn("publish: routing failed", "topic", p.topic, "err", err)
			routes = &component.BrokerRoutes{}
		case round == 0:
			b.stats.published.Add(1)
		}
		results := make([]attemptResult, len(routes.Targets))
		var wg sync.WaitGroup
		for i, t := range routes.Targets {
			if round > 0 {
				b.stats.retries.Add(1)
			}
			wg.Go(func() {
				o, err := b.attempt(ctx, routes.ContentType, t, p.body)
				results[i] = attemptResult{target: t, outcome: o, err: err}
			})
		}
		wg.Wait()
		for _, r := range results {
			p.record(r)
		}
		if len(p.suspect) == 0 && !p.awaitingReplacement() {
			return nil
		}
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			p.giveUp(ctx.Err())
			return nil
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// candidates is services as this round should route over them: the topic's nodes not done
// with, no node of a queue group already served, in a queue group the nodes that have not
// just failed when it has any others, and after the first round no new broadcast node
// unless a broadcast node is failing or gone (the new one may be its restart). A queue
// group's member failing or gone admits none: a broadcast node cannot succeed it, and one
// registered since the first round is a new subscriber, or the restart of one that already
// has the message.
func (p *publication) candidates(services []*abi.Service) []*abi.Service {
	defer func() { p.rounds++ }()
	replacing := false
	for _, gn := range p.unreplaced() {
		replacing = replacing || gn.group == component.BrokerBroadcastVersion
	}
	for id := range p.suspect {
		replacing = replacing || p.group[id] == component.BrokerBroadcastVersion
	}
	listed := map[string]bool{}
	for _, svc := range services {
		if svc == nil {
			continue
		}
		for _, n := range svc.Nodes {
			listed[n.ID] = true
		}
	}
	p.dropUnlisted(listed)
	out := make([]*abi.Service, 0, len(services))
	for _, svc := range services {
		if svc == nil {
			continue
		}
		queue := svc.Version != component.BrokerBroadcastVersion
		if queue && p.satisfied[svc.Version] {
			continue
		}
		var keep []abi.Node
		for _, n := range svc.Nodes {
			if n.Metadata[component.BrokerMetaTopic] != p.topic || p.done[n.ID] {
				continue
			}
			_, known := p.group[n.ID]
			if p.rounds > 0 && !known && !queue && !replacing {
				// A broadcast node registered since the first round is a new subscriber,
				// not owed this message, unless one may be the successor of a failing one.
				continue
			}
			p.group[n.ID], p.address[n.ID] = svc.Version, n.Address
			keep = append(keep, n)
		}
		if len(keep) == 0 {
			continue
		}
		c := *svc
		c.Nodes = keep
		out = append(out, &c)
	}
	// In each queue group, leave out the nodes that just failed while others remain.
	healthy := map[string]bool{}
	for _, svc := range out {
		if svc.Version == component.BrokerBroadcastVersion {
			continue
		}
		for _, n := range svc.Nodes {
			if p.suspect[n.ID] == nil {
				healthy[svc.Version] = true
			}
		}
	}
	for i, svc := range out {
		if svc.Version == component.BrokerBroadcastVersion || !healthy[svc.Version] {
			continue
		}
		nodes := make([]abi.Node, 0, len(svc.Nodes))
		for _, n := range svc.Nodes {
			if p.suspect[n.ID] == nil {
				nodes = append(nodes, n)
			}
		}
		c := *svc
		c.Nodes = nodes
		out[i] = &c
	}
	return out
}

// record takes the outcome of one attempt.
func (p *publication) record(r attemptResult) {
	b, id := p.b, r.target.ID
	g := p.group[id]
	queue := g != component.BrokerBroadcastVersion
	switch r.outcome {
	case delivered:
		b.stats.delivered.Add(1)
		p.done[id] = true
		delete(p.suspect, id)
		p.res.Delivered = append(p.res.Delivered, id)
		if queue {
			p.serve(g)
		}
	case gone:
		p.markGone(id, r.target.Address)
		b.forget(id)
		b.logger.Debug("subscriber gone; routing to the registered ones", "topic", p.topic, "node", id, "err", r.err)
	case refused:
		p.done[id] = true
		delete(p.suspect, id)
		p.fail(id, r.err)
		if queue {
			p.serve(g)
		}
	case retryable:
		if errors.Is(r.err, syscall.ECONNREFUSED) {
			b.invalidate()
		}
		p.suspect[id] = r.err
	}
}

// markGone takes node id as gone: never sent to again, and awaited a successor at its
// address.
func (p *publication) markGone(id, address string) {
	p.done[id] = true
	delete(p.suspect, id)
	p.res.Gone = append(p.res.Gone, id)
	p.gone = append(p.gone, goneNode{id: id, group: p.group[id], address: address})
}

// dropUnlisted settles the suspect nodes the registry no longer lists: gone when this
// broker found them gone in another publication, else no longer subscribers (deregistered
// or expired), not owed the message.
func (p *publication) dropUnlisted(listed map[string]bool) {
	for id := range p.suspect {
		if listed[id] {
			continue
		}
		if p.b.isGone(id) {
			p.markGone(id, p.address[id])
			continue
		}
		delete(p.suspect, id)
	}
}

// serve marks queue group g served: its other nodes that failed are no longer waited for.
func (p *publication) serve(g string) {
	p.satisfied[g] = true
	for id := range p.suspect {
		if p.group[id] == g {
			delete(p.suspect, id)
		}
	}
}

// awaitingReplacement reports whether a node found gone has no successor yet: no node of
// its group at its address has got the message (a queue group served by another node
// needs none). While one is awaited the registry is read afresh each round.
func (p *publication) awaitingReplacement() bool {
	if len(p.unreplaced()) == 0 {
		return false
	}
	p.b.invalidate()
	return true
}

// unreplaced lists the gone nodes with no successor yet (see awaitingReplacement).
func (p *publication) unreplaced() []goneNode {
	var out []goneNode
	for _, gn := range p.gone {
		if gn.group != component.BrokerBroadcastVersion && p.satisfied[gn.group] {
			continue
		}
		if !slices.ContainsFunc(p.res.Delivered, func(id string) bool {
			return p.group[id] == gn.group && p.address[id] == gn.address
		}) {
			out = append(out, gn)
		}
	}
	return out
}

// giveUp fails, when the retry window closes, every node still suspect, and every gone node
// that no subscriber replaced.
func (p *publication) giveUp(ctxErr error) {
	for id, err := range p.suspect {
		if ctxErr != nil {
			err = fmt.Errorf("%w (last try: %w)", ctxErr, err)
		}
		p.fail(id, err)
	}
	clear(p.suspect)
	for _, gn := range p.unreplaced() {
		err := fmt.Errorf("no longer served at %s, and no subscriber replaced it in time", gn.address)
		if ctxErr != nil {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		p.fail(gn.id, err)
	}
}

// fail gives up on node id.
func (p *publication) fail(id string, err error) {
	p.b.stats.dropped.Add(1)
	p.b.logger.Warn("delivery dropped", "topic", p.topic, "node", id, "err", err)
	p.res.Failed = append(p.res.Failed, DeliveryFailure{Node: id, Err: err})
}

// lookup returns the subscriber nodes, from the cache while it is fresh, without the nodes
// found gone.
func (b *Broker) lookup(ctx context.Context) ([]*abi.Service, error) {
	if b.opts.LookupTTL > 0 {
		b.cacheMu.Lock()
		if time.Now().Before(b.cachedTill) {
			s := b.withoutGone(b.cached)
			b.cacheMu.Unlock()
			return s, nil
		}
		b.cacheMu.Unlock()
	}
	services, err := b.opts.Registry.GetService(ctx, component.BrokerServiceName)
	if errors.Is(err, abi.ErrServiceNotFound) {
		services, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	if b.opts.LookupTTL > 0 {
		b.cached, b.cachedTill = services, time.Now().Add(b.opts.LookupTTL)
	}
	return b.withoutGone(services), nil
}

// withoutGone is services less the nodes found gone; b.cacheMu is held.
func (b *Broker) withoutGone(services []*abi.Service) []*abi.Service {
	if len(b.goneTill) == 0 {
		return services
	}
	now := time.Now()
	for id, till := range b.goneTill {
		if now.After(till) {
			delete(b.goneTill, id)
		}
	}
	out := make([]*abi.Service, 0, len(services))
	for _, svc := range services {
		if svc == nil {
			continue
		}
		c := *svc
		c.Nodes = slices.DeleteFunc(slices.Clone(svc.Nodes), func(n abi.Node) bool { _, g := b.goneTill[n.ID]; return g })
		out = append(out, &c)
	}
	return out
}

// isGone reports whether node id was found gone and is left out of lookups.
func (b *Broker) isGone(id string) bool {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	_, ok := b.goneTill[id]
	return ok
}

// forget leaves node id out of lookups for the registration's TTL: its address's listener
// said it no longer serves it.
func (b *Broker) forget(id string) {
	b.stats.gone.Add(1)
	b.cacheMu.Lock()
	b.goneTill[id] = time.Now().Add(b.opts.TTL)
	b.cacheMu.Unlock()
}

// invalidate drops the cached registry answer, after a change this broker made or saw.
func (b *Broker) invalidate() {
	b.cacheMu.Lock()
	b.cached, b.cachedTill = nil, time.Time{}
	b.cacheMu.Unlock()
}

// attempt makes one delivery to t and classifies its outcome. A 404 means the listener at
// the node's address does not serve that node (it restarted under a new id, or the node
// unsubscribed): the node is gone, not a refusal. Other 4xx answers (but 408 and 429) are
// refusals; transport failures, 5xx, 408 and 429 are worth retrying.
func (b *Broker) attempt(ctx context.Context, contentType string, t component.BrokerTarget, body []byte) (outcome, error) {
	actx, cancel := context.WithTimeout(ctx, b.opts.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return refused, err
	}
	req.Header.Set("Content-Type", contentType)
	rsp, err := b.client.Do(req)
	if err != nil {
		return retryable, err
	}
	reply, _ := io.ReadAll(io.LimitReader(rsp.Body, 4096))
	_ = rsp.Body.Close()
	if rsp.StatusCode/100 == 2 {
		return delivered, nil
	}
	err = fmt.Errorf("subscriber answered %s: %s", rsp.Status, bytes.TrimSpace(reply))
	switch {
	case rsp.StatusCode == http.StatusNotFound:
		return gone, err
	case rsp.StatusCode >= 500 || rsp.StatusCode == http.StatusRequestTimeout || rsp.StatusCode == http.StatusTooManyRequests:
		return retryable, err
	}
	return refused, err
}

// ServeHTTP receives deliveries: it parses and validates each one through the protocol and
// hands it to the addressed subscriber. A malformed delivery gets a 4xx Go Micro error; a
// delivery whose handler fails gets the handler's code (500 for a fault).
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			b.reject(w, abi.NewError("", 413, "delivery larger than %d bytes", b.opts.MaxBodyBytes))
			return
		}
		b.reject(w, abi.NewError("", 400, "reading the delivery: %v", err))
		return
	}
	d, err := b.proto.Parse(r.Context(), &component.BrokerParseRequest{
		Method: r.Method, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"), Body: body})
	if err != nil {
		b.reject(w, err)
		return
	}
	b.mu.RLock()
	s := b.subs[d.ID]
	b.mu.RUnlock()
	switch {
	case s == nil:
		b.reject(w, abi.NewError("", 404, "no subscriber %s here", d.ID))
		return
	case s.topic != d.Topic:
		b.reject(w, abi.NewError("", 400, "subscriber %s is for topic %s, not %s", d.ID, s.topic, d.Topic))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), b.opts.HandlerTimeout)
	defer cancel()
	if err := s.handler(ctx, &Event{Topic: d.Topic, Header: d.Header, Body: d.Body}); err != nil {
		s.failed.Add(1)
		b.stats.failed.Add(1)
		ae := asError(err)
		b.logger.Warn("subscriber failed", "topic", d.Topic, "node", d.ID, "code", ae.Code, "err", err)
		writeError(w, ae)
		return
	}
	s.received.Add(1)
	b.stats.received.Add(1)
	w.WriteHeader(http.StatusOK)
}

func (b *Broker) reject(w http.ResponseWriter, err error) {
	b.stats.rejected.Add(1)
	ae := asError(err)
	b.logger.Debug("delivery rejected", "code", ae.Code, "detail", ae.Detail)
	writeError(w, ae)
}

// asError gives err Go Micro's error shape: an *abi.Error keeps its code, a context
// deadline is 408, anything else 500.
func asError(err error) *abi.Error {
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		out := *ae
		out.ID = "go.micro.broker"
		if out.Code < 400 || out.Code > 599 {
			out.Code = 500
		}
		out.Status = abi.StatusText(out.Code)
		return &out
	case errors.Is(err, context.DeadlineExceeded):
		return abi.NewError("go.micro.broker", 408, "%v", err)
	}
	return abi.NewError("go.micro.broker", 500, "%v", err)
}

func writeError(w http.ResponseWriter, e *abi.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(e.Code))
	_, _ = io.WriteString(w, e.Error())
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
