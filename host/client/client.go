// Package client is the client pipeline, as Go Micro's: it looks a service up in the
// registry (through a Lookup, such as the registry cache), picks a node with a selector
// (random or round robin, filtered by version and metadata labels), calls it over a pooled,
// kept-alive connection with Go Micro's mucp headers, and on a transport failure marks the
// node and retries another after a back-off. Requests are encoded and replies decoded with
// the codec of the request's content type.
//
// An ordinary Go program calls a microhost service by name in a few lines:
//
//	reg, _ := registry.Open(ctx, registry.Options{}, catalogue, nil, logger) // internal/registry
//	c := client.New(reg, client.Options{})
//	defer c.Close()
//	var rsp struct{ Greeting string }
//	err := c.CallJSON(ctx, "greeter", "Greeter.Hello", map[string]string{"name": "John"}, &rsp)
package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/telemetry"
	"github.com/microhost/microhost/internal/transport"
)

// Lookup finds a service's registrations. The registries and the registry cache satisfy it.
type Lookup interface {
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
}

// Codecs finds the codec for a content type. *codec.Registry satisfies it.
type Codecs interface {
	Lookup(contentType string) (*codec.Codec, bool)
}

// Selector chooses a node for each try and learns which nodes failed. *selector.Selector
// satisfies it, native or with its Wasm plugin.
type Selector interface {
	Select(ctx context.Context, service string, nodes []selector.Node, f selector.Filter) (selector.Node, error)
	Mark(nodeID string, err error)
}

// Defaults, as Go Micro's.
const (
	// DefaultTimeout bounds a call, retries included, when neither its context nor its
	// options set an earlier deadline.
	DefaultTimeout = 5 * time.Second
	// DefaultRetries is how many times a call is retried after a transport failure.
	DefaultRetries = 1
	// DefaultMaxBackoff bounds the wait before one retry.
	DefaultMaxBackoff = time.Second
)

// ID is the id of the errors the client makes itself, as Go Micro's are "go.micro.client".
const ID = "microhost.client"

// Options configure a Client.
type Options struct {
	// Timeout bounds each call, retries included, when its context has no earlier deadline.
	// Zero means DefaultTimeout. A call may override it with WithTimeout.
	Timeout time.Duration
	// Retries is how many times a call is retried, on another node when there is one, after
	// a transport failure (the node could not be reached, or the connection broke). An error
	// the handler returned is never retried. Zero means DefaultRetries; negative means none.
	Retries int
	// Backoff is the wait before retry number attempt (1 for the first retry). Nil means
	// ExponentialBackoff: 10^attempt ms, bounded by DefaultMaxBackoff.
	Backoff func(attempt int) time.Duration
	// Selector chooses nodes: a service passes the one its [selector] table configures
	// (selector.Load). Nil means a selector.Selector making the host's builtin choice
	// (selector.Builtin, the stock strategies) with Strategy and Seed.
	Selector Selector
	// Strategy is the builtin selector's strategy: "random" (default) or "roundrobin".
	Strategy string
	// Seed makes the builtin selector's random choices repeatable; zero seeds at random.
	Seed uint64
	// Transport carries the calls. Nil means a pooled transport client built from Pool,
	// which Close closes.
	Transport *transport.Client
	// Pool configures the transport client when Transport is nil.
	Pool transport.ClientOptions
	// Codecs encode requests and decode replies by content type. Nil means the native
	// codecs of Catalogue.
	Codecs Codecs
	// Catalogue supplies the native codecs when Codecs is nil, such as
	// plugins/standard.Catalogue's stock four. With neither, the client knows no content
	// type and every call fails with 415.
	Catalogue *component.Catalogue
	// Logger receives a debug record per failed try. Nil discards them.
	Logger *slog.Logger
	// Telemetry observes each call (its duration metric and its span, whose trace context
	// the call carries in its traceparent header) and each look-up; nil observes nothing.
	Telemetry *telemetry.Telemetry
}

// Client calls services by name or by address. It is safe for concurrent use.
type Client struct {
	lookup   Lookup
	selector Selector
	// flat turns each lookup's answer into the selector's node list once per change of the
	// registrations, not once per call.
	flat       selector.Flattener
	transport  *transport.Client
	ownsTransp bool
	codecs     Codecs
	timeout    time.Duration
	retries    int
	backoff    func(int) time.Duration
	logger     *slog.Logger
	tel        *telemetry.Telemetry
}

// New returns a Client that finds services through lookup (nil when only CallAddress is
// used). It fails only on a bad Options.Strategy, which it reports by panicking: use
// NewClient to get the error instead.
func New(lookup Lookup, opts Options) *Client {
	c, err := NewClient(lookup, opts)
	if err != nil {
		panic(err)
	}
	return c
}

// NewClient returns a Client that finds services through lookup (nil when only CallAddress
// is used), or an error for an unknown Options.Strategy.
func NewClient(lookup Lookup, opts Options) (*Client, error) {
	c := &Client{lookup: lookup, selector: opts.Selector, transport: opts.Transport, codecs: opts.Codecs,
		timeout: opts.Timeout, retries: opts.Retries, backoff: opts.Backoff, logger: opts.Logger, tel: opts.Telemetry}
	if c.selector == nil {
		s, err := selector.New(selector.Options{Strategy: opts.Strategy, Seed: opts.Seed})
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		c.selector = s
	}
	if c.transport == nil {
		c.transport = transport.NewClient(opts.Pool)
		c.ownsTransp = true
	}
	if c.codecs == nil {
		c.codecs = codec.NativeRegistry(opts.Catalogue)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.backoff == nil {
		c.backoff = ExponentialBackoff
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Close closes the pooled connections of a transport the client made itself.
func (c *Client) Close() error {
	if c.ownsTransp {
		return c.transport.Close()
	}
	return nil
}

// ExponentialBackoff is Go Micro's back-off: 10^attempt milliseconds (10 ms before the first
// retry, 100 ms before the second), bounded by DefaultMaxBackoff.
func ExponentialBackoff(attempt int) time.Duration {
	if attempt <= 0 {
		return 0
	}
	if attempt >= 4 {
		return DefaultMaxBackoff
	}
	return min(time.Duration(math.Pow10(attempt))*time.Millisecond, DefaultMaxBackoff)
}

// Request is one call.
type Request struct {
	// Service is the service's registered name.
	Service string
	// Endpoint is "Service.Method", such as "Greeter.Hello".
	Endpoint string
	// ContentType is the wire content type, application/json by default:
	// application/json, application/protobuf, application/octet-stream,
	// application/json-rpc or application/proto-rpc.
	ContentType string
	// Metadata travels as headers, over the metadata of the call's context (NewContext).
	Metadata map[string]string
	// Body is the bare request: JSON for application/json and application/json-rpc,
	// protobuf for application/protobuf and application/proto-rpc. The codec wraps it in
	// the envelope of the RPC content types.
	Body []byte
}

// Response is a call's answer.
type Response struct {
	// Body is the bare reply body (for the RPC content types, the body inside the envelope).
	Body []byte
	// Metadata is the reply metadata the handler set (its response_header calls).
	Metadata map[string]string
	// Node is the node that answered.
	Node selector.Node
	// Attempts is how many tries the call took: 1, or more after transport failures.
	Attempts int
}

// CallOption changes one call's options.
type CallOption func(*callOptions)

type callOptions struct {
	timeout time.Duration
	retries int
	filter  selector.Filter
}

// WithTimeout bounds this call, retries included, instead of Options.Timeout. An earlier
// deadline of the call's context still wins.
func WithTimeout(d time.Duration) CallOption {
	return func(o *callOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithRetries sets how many times this call is retried after a transport failure; 0 means
// none.
func WithRetries(n int) CallOption {
	return func(o *callOptions) { o.retries = max(n, 0) }
}

// WithVersion calls only nodes of this service version.
func WithVersion(version string) CallOption {
	return func(o *callOptions) { o.filter.Version = version }
}

// WithLabels calls only nodes whose metadata has every one of these key/values.
func WithLabels(labels map[string]string) CallOption {
	return func(o *callOptions) { o.filter.Labels = labels }
}

func (c *Client) callOptions(opts []CallOption) callOptions {
	o := callOptions{timeout: c.timeout, retries: c.retries}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Call calls req.Service by name and returns the bare reply body; see Do.
func (c *Client) Call(ctx context.Context, req *Request, opts ...CallOption) ([]byte, error) {
	rsp, err := c.Do(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	return rsp.Body, nil
}

// Do calls req.Service by name: it looks the service up, and for each try selects a node,
// calls it and marks it (failed or not) in the selector. A transport failure is retried
// after a back-off, up to the retry count and within the call's deadline; an error the handler
// returned comes back at once as an *abi.Error with the handler's code. A service with no
// registered node gives an error wrapping abi.ErrServiceNotFound; nodes that the filters all
// rule out, one wrapping selector.ErrNoneAvailable; the deadline, a 408 *abi.Error.
func (c *Client) Do(ctx context.Context, req *Request, opts ...CallOption) (*Response, error) {
	if c.tel == nil {
		return c.do(ctx, req, opts)
	}
	ctx, obs := c.tel.StartCall(ctx, req.Service, req.Endpoint)
	rsp, err := c.do(ctx, req, opts)
	obs.End(statusCode(err))
	return rsp, err
}

// statusCode is the Go Micro status code of a call's outcome: 200, the error's own code, or
// the code CallService would give the error.
func statusCode(err error) int32 {
	var ae *abi.Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &ae):
		return ae.Code
	case errors.Is(err, abi.ErrServiceNotFound), errors.Is(err, selector.ErrNoneAvailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, transport.ErrTransport):
		return http.StatusBadGateway
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusRequestTimeout
	default:
		return http.StatusInternalServerError
	}
}

func (c *Client) do(ctx context.Context, req *Request, opts []CallOption) (*Response, error) {
	if c.lookup == nil {
		return nil, errors.New("client has no registry: call an address instead")
	}
	o := c.callOptions(opts)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var began time.Time
	if c.tel.Metrics() {
		began = time.Now()
	}
	services, err := c.lookup.GetService(ctx, req.Service)
	if !began.IsZero() {
		c.tel.LookedUp(time.Since(began))
	}
	if err != nil {
		if errors.Is(err, abi.ErrServiceNotFound) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, c.timedOut(req, "")
		}
		return nil, fmt.Errorf("look up %s: %w", req.Service, err)
	}
	nodes := c.flat.Flatten(services)
	wire, ct, id, err := c.encode(ctx, req)
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt <= o.retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, c.backoff(attempt)); err != nil {
				return nil, abi.NewError(ID, http.StatusRequestTimeout, "call %s %s: timed out after %d tries; the last failed with: %v", req.Service, req.Endpoint, attempt, last)
			}
		}
		node, err := c.selector.Select(ctx, req.Service, nodes, o.filter)
		if err != nil {
			if outOfTime(ctx) {
				return nil, c.timedOut(req, "")
			}
			return nil, err
		}
		rsp, err := c.send(ctx, node.Address, req, ct, id, wire)
		if err != nil && outOfTime(ctx) {
			// No retry outlives the call's deadline, and running out of it is a 408.
			return nil, c.timedOut(req, "")
		}
		if errors.Is(err, transport.ErrTransport) {
			c.selector.Mark(node.ID, err)
			c.logger.Debug("call try failed", "service", req.Service, "endpoint", req.Endpoint, "node", node.ID, "attempt", attempt+1, "err", err)
			last = err
			continue
		}
		// The node answered (a handler error included): it is alive.
		c.selector.Mark(node.ID, nil)
		if err != nil {
			return nil, err
		}
		rsp.Node, rsp.Attempts = node, attempt+1
		return rsp, nil
	}
	return nil, fmt.Errorf("call %s %s: gave up after %d tries: %w", req.Service, req.Endpoint, o.retries+1, last)
}

// CallJSON calls endpoint of service with req encoded as JSON and decodes the reply into rsp
// (which may be nil to discard it).
func (c *Client) CallJSON(ctx context.Context, service, endpoint string, req, rsp any, opts ...CallOption) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("call %s %s: encode the request: %w", service, endpoint, err)
	}
	reply, err := c.Call(ctx, &Request{Service: service, Endpoint: endpoint, ContentType: "application/json", Body: body}, opts...)
	if err != nil {
		return err
	}
	if rsp == nil {
		return nil
	}
	if err := json.Unmarshal(reply, rsp); err != nil {
		return fmt.Errorf("call %s %s: decode the reply: %w", service, endpoint, err)
	}
	return nil
}

// CallAddress calls the node at addr (host:port) directly, bypassing the registry and the
// retries. It returns the bare reply body (for the RPC content types, the body inside the
// envelope).
func (c *Client) CallAddress(ctx context.Context, addr string, req *Request, opts ...CallOption) ([]byte, error) {
	o := c.callOptions(opts)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	wire, ct, id, err := c.encode(ctx, req)
	if err != nil {
		return nil, err
	}
	rsp, err := c.send(ctx, addr, req, ct, id, wire)
	if err != nil {
		return nil, err
	}
	return rsp.Body, nil
}

// CallService serves a module's call host function: it calls through Call with the
// calling request's metadata, and reports every failure as an *abi.Error — the handler's
// own, or 408 at the deadline, 502 when no node could be reached, 503 when the service has
// no node. It makes *Client a host.ServiceCaller.
func (c *Client) CallService(ctx context.Context, r *host.ServiceRequest) ([]byte, error) {
	reply, err := c.Call(ctx, &Request{Service: r.Service, Endpoint: r.Endpoint, ContentType: r.ContentType, Metadata: r.Metadata, Body: r.Body})
	if err == nil {
		return reply, nil
	}
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		return nil, ae
	case errors.Is(err, abi.ErrServiceNotFound), errors.Is(err, selector.ErrNoneAvailable):
		return nil, abi.NewError(ID, http.StatusServiceUnavailable, "%v", err)
	case errors.Is(err, transport.ErrTransport):
		return nil, abi.NewError(ID, http.StatusBadGateway, "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, abi.NewError(ID, http.StatusRequestTimeout, "%v", err)
	default:
		return nil, abi.NewError(ID, http.StatusInternalServerError, "%v", err)
	}
}

var _ host.ServiceCaller = (*Client)(nil)

// encode writes req's wire body in its content type's codec, under a new request id that
// every try of the call sends.
func (c *Client) encode(ctx context.Context, req *Request) (wire []byte, ct, id string, err error) {
	ct = req.ContentType
	if ct == "" {
		ct = "application/json"
	}
	cc, ok := c.codecs.Lookup(ct)
	if !ok {
		return nil, ct, "", abi.NewError(ID, http.StatusUnsupportedMediaType, "call %s: no codec for content type %q", req.Endpoint, ct)
	}
	id = newID()
	wire, err = cc.WriteRequest(ctx, ct, &codec.Message{ID: id, Service: req.Service, Endpoint: req.Endpoint, Body: req.Body})
	if err != nil {
		return nil, ct, "", fmt.Errorf("call %s: encode the request as %s: %w", req.Endpoint, ct, err)
	}
	return wire, ct, id, nil
}

// Headers of Go Micro's mucp protocol the client sets itself; metadata of these names is
// dropped.
var reserved = []string{
	component.HeaderContentType, component.HeaderContentLength, component.HeaderHost, component.HeaderTimeout,
	component.HeaderMicroID, component.HeaderMicroService, component.HeaderMicroEndpoint, component.HeaderMicroMethod,
	component.HeaderMicroError, component.HeaderConnection, component.HeaderMicroStream, component.HeaderMicroStreamEnd,
}

// replyHeaders are reply headers that are not the handler's metadata.
var replyHeaders = []string{
	component.HeaderContentType, component.HeaderContentLength, component.HeaderMicroID, component.HeaderMicroError,
	component.HeaderConnection, "Keep-Alive", "Date", "Transfer-Encoding",
}

func isOneOf(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// send makes one try: it writes the request to addr and reads and decodes the reply.
func (c *Client) send(ctx context.Context, addr string, req *Request, ct, id string, wire []byte) (*Response, error) {
	headers := requestHeaders(ctx, req, ct, id, 0)
	rep, err := c.transport.Call(ctx, addr, headers, wire)
	if err != nil {
		// The connection's deadline is the call's, so its "i/o timeout" may come a moment
		// before ctx says so: either way the call ran out of time.
		if errors.Is(err, context.DeadlineExceeded) || outOfTime(ctx) {
			return nil, c.timedOut(req, addr)
		}
		return nil, fmt.Errorf("call %s at %s: %w", req.Endpoint, addr, err)
	}
	rsp := &Response{}
	for _, h := range rep.Header {
		name := string(h.Name)
		if strings.EqualFold(name, component.HeaderMicroError) && len(h.Value) > 0 {
			return nil, abi.ParseError(string(h.Value))
		}
		if isOneOf(name, replyHeaders) {
			continue
		}
		if rsp.Metadata == nil {
			rsp.Metadata = map[string]string{}
		}
		rsp.Metadata[name] = string(h.Value)
	}
	if rep.Status != http.StatusOK {
		return nil, abi.ParseError(string(rep.Body))
	}
	cc, _ := c.codecs.Lookup(ct)
	msg, err := cc.ReadResponse(ctx, ct, rep.Body)
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: decode the %s reply: %w", req.Endpoint, addr, ct, err)
	}
	if msg.Error != "" {
		return nil, abi.ParseError(msg.Error)
	}
	rsp.Body = msg.Body
	return rsp, nil
}

// requestHeaders are the headers of a request: the metadata of ctx and req, then the mucp
// headers, with room for extra more.
func requestHeaders(ctx context.Context, req *Request, ct, id string, extra int) []component.TransportHeader {
	md, _ := ctx.Value(metadataKey{}).(map[string]string)
	headers := make([]component.TransportHeader, 0, len(md)+len(req.Metadata)+8+extra)
	add := func(k, v string) {
		headers = append(headers, component.TransportHeader{Name: []byte(k), Value: []byte(v)})
	}
	// A call made under a span carries that span's trace context, in place of any the
	// metadata forwarded from the calling request.
	traced := telemetry.Inject(ctx, add)
	for k, v := range md {
		if _, over := req.Metadata[k]; !over && !isOneOf(k, reserved) && !(traced && telemetry.IsTraceHeader(k)) {
			add(k, v)
		}
	}
	for k, v := range req.Metadata {
		if !isOneOf(k, reserved) && !(traced && telemetry.IsTraceHeader(k)) {
			add(k, v)
		}
	}
	add(component.HeaderContentType, ct)
	add(component.HeaderMicroService, req.Service)
	add(component.HeaderMicroEndpoint, req.Endpoint)
	add(component.HeaderMicroMethod, req.Endpoint)
	add(component.HeaderMicroID, id)
	if dl, ok := ctx.Deadline(); ok {
		add(component.HeaderTimeout, strconv.FormatInt(int64(time.Until(dl)), 10))
	}
	return headers
}

// timedOut is the 408 error of a call that reached its deadline.
func (c *Client) timedOut(req *Request, addr string) *abi.Error {
	if addr == "" {
		return abi.NewError(ID, http.StatusRequestTimeout, "call %s %s: timed out", req.Service, req.Endpoint)
	}
	return abi.NewError(ID, http.StatusRequestTimeout, "call %s at %s: timed out", req.Endpoint, addr)
}

// outOfTime reports whether ctx is done or its deadline has passed (a timer may not have
// fired yet).
func outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newID returns a random request id in decimal, so that it also fits proto-RPC's numeric seq
// (kept below 2^63, as Go Micro parses seq as a signed number).
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
}
