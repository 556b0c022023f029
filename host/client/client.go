// Package client is the client pipeline: it looks a service up in the registry, picks a node
// at random and calls it over HTTP with Go Micro's mucp headers, encoding the request and
// decoding the reply with the codec of the request's content type.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/codec"
)

// Lookup finds a service's registrations. The local and Consul registries satisfy it.
type Lookup interface {
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
}

// Codecs finds the codec for a content type. *codec.Registry satisfies it.
type Codecs interface {
	Lookup(contentType string) (*codec.Codec, bool)
}

// Options configure a Client.
type Options struct {
	// Timeout bounds each call when its context has no earlier deadline. Zero means 5 s.
	Timeout time.Duration
	// Seed makes node choice repeatable; zero seeds from crypto/rand.
	Seed uint64
	// HTTP is the HTTP client to use; nil uses one with kept-alive connections.
	HTTP *http.Client
	// Codecs encode requests and decode replies by content type. Nil uses the native stock
	// codecs.
	Codecs Codecs
}

// Client calls services by name or by address.
type Client struct {
	lookup  Lookup
	http    *http.Client
	timeout time.Duration
	codecs  Codecs

	mu   sync.Mutex
	rand *mathrand.Rand
}

// New returns a Client that finds services through lookup (which may be nil when only
// CallAddress is used).
func New(lookup Lookup, opts Options) *Client {
	c := &Client{lookup: lookup, http: opts.HTTP, timeout: opts.Timeout, codecs: opts.Codecs}
	if c.codecs == nil {
		c.codecs = codec.NativeRegistry()
	}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	c.rand = mathrand.New(mathrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return c
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
	// Metadata travels as headers.
	Metadata map[string]string
	// Body is the bare request: JSON for application/json and application/json-rpc,
	// protobuf for application/protobuf and application/proto-rpc. The codec wraps it in
	// the envelope of the RPC content types.
	Body []byte
}

// Call looks req.Service up, picks one of its nodes at random and calls it. A service with no
// live node gives an error wrapping abi.ErrServiceNotFound; an error the handler returned comes
// back as an *abi.Error.
func (c *Client) Call(ctx context.Context, req *Request) ([]byte, error) {
	if c.lookup == nil {
		return nil, errors.New("client has no registry: call an address instead")
	}
	services, err := c.lookup.GetService(ctx, req.Service)
	if err != nil {
		if errors.Is(err, abi.ErrServiceNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("look up %s: %w", req.Service, err)
	}
	var nodes []abi.Node
	for _, s := range services {
		nodes = append(nodes, s.Nodes...)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: %s has no nodes", abi.ErrServiceNotFound, req.Service)
	}
	c.mu.Lock()
	node := nodes[c.rand.IntN(len(nodes))]
	c.mu.Unlock()
	return c.CallAddress(ctx, node.Address, req)
}

// CallAddress calls the node at addr (host:port) directly, bypassing the registry. It returns
// the bare reply body (for the RPC content types, the body inside the envelope).
func (c *Client) CallAddress(ctx context.Context, addr string, req *Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ct := req.ContentType
	if ct == "" {
		ct = "application/json"
	}
	cc, ok := c.codecs.Lookup(ct)
	if !ok {
		return nil, abi.NewError("microhost.client", http.StatusUnsupportedMediaType, "call %s: no codec for content type %q", req.Endpoint, ct)
	}
	id := newID()
	wire, err := cc.WriteRequest(ctx, ct, &codec.Message{ID: id, Service: req.Service, Endpoint: req.Endpoint, Body: req.Body})
	if err != nil {
		return nil, fmt.Errorf("call %s: encode the request as %s: %w", req.Endpoint, ct, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", bytes.NewReader(wire))
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: %w", req.Endpoint, addr, err)
	}
	for k, v := range req.Metadata {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", ct)
	hr.Header.Set("Micro-Service", req.Service)
	hr.Header.Set("Micro-Endpoint", req.Endpoint)
	hr.Header.Set("Micro-Method", req.Endpoint)
	hr.Header.Set("Micro-Id", id)
	if dl, ok := ctx.Deadline(); ok {
		hr.Header.Set("Timeout", strconv.FormatInt(int64(time.Until(dl)), 10))
	}
	rsp, err := c.http.Do(hr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, abi.NewError("microhost.client", http.StatusRequestTimeout, "call %s at %s: timed out", req.Endpoint, addr)
		}
		return nil, fmt.Errorf("call %s at %s: %w", req.Endpoint, addr, err)
	}
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: reading reply: %w", req.Endpoint, addr, err)
	}
	if e := rsp.Header.Get("Micro-Error"); e != "" {
		return nil, abi.ParseError(e)
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, abi.ParseError(string(body))
	}
	msg, err := cc.ReadResponse(ctx, ct, body)
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: decode the %s reply: %w", req.Endpoint, addr, ct, err)
	}
	if msg.Error != "" {
		return nil, abi.ParseError(msg.Error)
	}
	return msg.Body, nil
}

// newID returns a random request id in decimal, so that it also fits proto-RPC's numeric seq
// (kept below 2^63, as Go Micro parses seq as a signed number).
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
}
