package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/microhost/microhost/host/component"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// PoolSize is how many idle connections are kept per node (default 8).
	PoolSize int
	// IdleTimeout closes a pooled connection unused for this long (default 1 min, as Go
	// Micro's pool TTL).
	IdleTimeout time.Duration
	// DialTimeout bounds connecting (default 5 s).
	DialTimeout time.Duration
	// Limits bound reply sizes.
	Limits component.TransportLimits
	// NewFramer returns the client side of the wire protocol for one connection: the
	// configured transport's (a twin's framer, or a Wasm over its module). Nil, or a nil
	// result, means Go Micro's HTTP/1.1, built in.
	NewFramer func() component.ClientFramer
}

// Client sends requests over pooled, kept-alive connections, one pool per node address.
// It is safe for concurrent use.
type Client struct {
	opts  ClientOptions
	mu    sync.Mutex
	pools map[string][]*clientConn
}

type clientConn struct {
	net.Conn
	buf      []byte
	out      []byte
	lastUsed time.Time
	rsp      component.TransportResponse
	framer   component.ClientFramer
}

// NewClient returns a Client.
func NewClient(opts ClientOptions) *Client {
	if opts.PoolSize <= 0 {
		opts.PoolSize = 8
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Minute
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return &Client{opts: opts, pools: map[string][]*clientConn{}}
}

// newFramer returns the client framer of a new connection.
func (c *Client) newFramer() component.ClientFramer {
	if c.opts.NewFramer != nil {
		if f := c.opts.NewFramer(); f != nil {
			return f
		}
	}
	return goMicroWire{}
}

// ErrTransport is wrapped by Call's errors that happened below the application: dialing,
// writing, reading or framing. Only these are worth retrying on another node.
var ErrTransport = errors.New("transport failure")

// Call sends one request to addr and returns the reply; the reply's slices are copies the
// caller owns. The context's deadline bounds the whole exchange.
func (c *Client) Call(ctx context.Context, addr string, headers []component.TransportHeader, body []byte) (*Reply, error) {
	cc, reused, err := c.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	rep, err := c.roundTrip(ctx, cc, addr, headers, body)
	if err != nil && reused && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		// A pooled connection the server closed while it idled: retry once on a fresh one.
		if cc, _, err = c.dial(ctx, addr); err != nil {
			return nil, err
		}
		rep, err = c.roundTrip(ctx, cc, addr, headers, body)
	}
	return rep, err
}

func (c *Client) roundTrip(ctx context.Context, cc *clientConn, addr string, headers []component.TransportHeader, body []byte) (*Reply, error) {
	fail := func(err error) (*Reply, error) {
		cc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("call %s: %w", addr, ctxErr)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrTransport, addr, err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	_ = cc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = cc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var err error
	if cc.out, err = cc.framer.Request(ctx, cc.out[:0], addr, headers, len(body)); err != nil {
		return fail(err)
	}
	bufs := net.Buffers{cc.out, body}
	if _, err := bufs.WriteTo(cc); err != nil {
		return fail(err)
	}
	cc.buf = cc.buf[:0]
	for {
		n, err := cc.framer.Response(ctx, cc.buf, c.opts.Limits, &cc.rsp)
		if err != nil {
			return fail(err)
		}
		if n > 0 {
			rep := &Reply{Status: cc.rsp.Status, Body: append([]byte(nil), cc.rsp.Body...)}
			for _, h := range cc.rsp.Headers {
				rep.Header = append(rep.Header, component.TransportHeader{Name: append([]byte(nil), h.Name...), Value: append([]byte(nil), h.Value...)})
			}
			if cc.rsp.KeepAlive && n == len(cc.buf) {
				c.put(addr, cc)
			} else {
				cc.Close()
			}
			return rep, nil
		}
		if len(cc.buf) == cap(cc.buf) {
			grown := make([]byte, len(cc.buf), max(4096, 2*cap(cc.buf)))
			copy(grown, cc.buf)
			cc.buf = grown
		}
		m, err := cc.Read(cc.buf[len(cc.buf):cap(cc.buf)])
		cc.buf = cc.buf[:len(cc.buf)+m]
		if err != nil {
			return fail(err)
		}
	}
}

func (c *Client) get(ctx context.Context, addr string) (*clientConn, bool, error) {
	now := time.Now()
	c.mu.Lock()
	pool := c.pools[addr]
	for len(pool) > 0 {
		cc := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		if now.Sub(cc.lastUsed) > c.opts.IdleTimeout {
			cc.Close()
			continue
		}
		c.pools[addr] = pool
		c.mu.Unlock()
		return cc, true, nil
	}
	c.pools[addr] = pool
	c.mu.Unlock()
	return c.dial(ctx, addr)
}

func (c *Client) dial(ctx context.Context, addr string) (*clientConn, bool, error) {
	d := net.Dialer{Timeout: c.opts.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, false, fmt.Errorf("dial %s: %w", addr, ctxErr)
		}
		return nil, false, fmt.Errorf("%w: dial %s: %w", ErrTransport, addr, err)
	}
	return &clientConn{Conn: conn, buf: make([]byte, 0, 4096), framer: c.newFramer()}, false, nil
}

func (c *Client) put(addr string, cc *clientConn) {
	cc.lastUsed = time.Now()
	_ = cc.SetDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pools[addr]) >= c.opts.PoolSize {
		cc.Close()
		return
	}
	c.pools[addr] = append(c.pools[addr], cc)
}

// Idle returns how many idle connections are pooled for addr.
func (c *Client) Idle(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pools[addr])
}

// Close closes every pooled connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, pool := range c.pools {
		for _, cc := range pool {
			cc.Close()
		}
		delete(c.pools, addr)
	}
	return nil
}
