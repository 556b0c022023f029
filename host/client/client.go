// Package client is the client pipeline: it looks a service up in the registry, picks a node
// at random and calls it over HTTP with Go Micro's mucp headers.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
)

// Lookup finds a service's registrations. The local and Consul registries satisfy it.
type Lookup interface {
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
}

// Options configure a Client.
type Options struct {
	// Timeout bounds each call when its context has no earlier deadline. Zero means 5 s.
	Timeout time.Duration
	// Seed makes node choice repeatable; zero seeds from crypto/rand.
	Seed uint64
	// HTTP is the HTTP client to use; nil uses one with kept-alive connections.
	HTTP *http.Client
}

// Client calls services by name or by address.
type Client struct {
	lookup  Lookup
	http    *http.Client
	timeout time.Duration

	mu   sync.Mutex
	rand *mathrand.Rand
}

// New returns a Client that finds services through lookup (which may be nil when only
// CallAddress is used).
func New(lookup Lookup, opts Options) *Client {
	c := &Client{lookup: lookup, http: opts.HTTP, timeout: opts.Timeout}
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
	// ContentType defaults to application/json.
	ContentType string
	// Metadata travels as headers.
	Metadata map[string]string
	// Body is the encoded request.
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

// CallAddress calls the node at addr (host:port) directly, bypassing the registry.
func (c *Client) CallAddress(ctx context.Context, addr string, req *Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ct := req.ContentType
	if ct == "" {
		ct = "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", bytes.NewReader(req.Body))
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
	hr.Header.Set("Micro-Id", newID())
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
	return body, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
