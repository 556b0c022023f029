package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/transport"
)

// Stream is a stream open to a service: server-side streaming (Recv until io.EOF) or
// bidirectional (Send and Recv, then CloseSend). Send and CloseSend may be called from one
// goroutine while Recv is called from another. Close releases the stream; call it when
// done, even after Recv returned io.EOF.
type Stream struct {
	cs     *transport.ClientStream
	cancel context.CancelFunc
	req    *Request
	addr   string
	// Node is the node serving the stream.
	Node selector.Node
}

// streamContentTypes are the content types a stream may use: the bare codecs, whose
// messages are the bodies themselves.
var streamContentTypes = []string{"application/json", "application/protobuf", "application/octet-stream"}

// Stream opens a stream to req.Service by name: it looks the service up and selects a node
// as Do does; req.Body is the first message. A node that cannot be reached is marked and
// another is tried, up to the retry count, but once the stream is open nothing is retried.
// The call's timeout (Options.Timeout, WithTimeout) bounds the whole stream. Only bare
// content types stream: application/json (the default), application/protobuf and
// application/octet-stream.
func (c *Client) Stream(ctx context.Context, req *Request, opts ...CallOption) (*Stream, error) {
	if c.lookup == nil {
		return nil, errors.New("client has no registry: stream to an address instead")
	}
	o := c.callOptions(opts)
	ct, err := streamContentType(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	services, err := c.lookup.GetService(ctx, req.Service)
	if err != nil {
		cancel()
		if errors.Is(err, abi.ErrServiceNotFound) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, c.timedOut(req, "")
		}
		return nil, fmt.Errorf("look up %s: %w", req.Service, err)
	}
	nodes := c.flat.Flatten(services)
	id := newID()
	var last error
	for attempt := 0; attempt <= o.retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, c.backoff(attempt)); err != nil {
				cancel()
				return nil, abi.NewError(ID, http.StatusRequestTimeout, "stream %s %s: timed out after %d tries; the last failed with: %v", req.Service, req.Endpoint, attempt, last)
			}
		}
		node, err := c.selector.Select(ctx, req.Service, nodes, o.filter)
		if err != nil {
			cancel()
			return nil, err
		}
		s, err := c.open(ctx, cancel, node.Address, req, ct, id)
		if errors.Is(err, transport.ErrTransport) {
			c.selector.Mark(node.ID, err)
			c.logger.Debug("stream try failed", "service", req.Service, "endpoint", req.Endpoint, "node", node.ID, "attempt", attempt+1, "err", err)
			last = err
			continue
		}
		if err != nil {
			cancel()
			return nil, err
		}
		c.selector.Mark(node.ID, nil)
		s.Node = node
		return s, nil
	}
	cancel()
	return nil, fmt.Errorf("stream %s %s: gave up after %d tries: %w", req.Service, req.Endpoint, o.retries+1, last)
}

// StreamAddress opens a stream to the node at addr (host:port) directly, bypassing the
// registry and the retries; see Stream.
func (c *Client) StreamAddress(ctx context.Context, addr string, req *Request, opts ...CallOption) (*Stream, error) {
	o := c.callOptions(opts)
	ct, err := streamContentType(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	s, err := c.open(ctx, cancel, addr, req, ct, newID())
	if err != nil {
		cancel()
		return nil, err
	}
	s.Node = selector.Node{Address: addr}
	return s, nil
}

func streamContentType(req *Request) (string, error) {
	ct := codec.MediaType(req.ContentType)
	if ct == "" {
		ct = "application/json"
	}
	for _, t := range streamContentTypes {
		if t == ct {
			return ct, nil
		}
	}
	return "", abi.NewError(ID, http.StatusUnsupportedMediaType, "stream %s: content type %q cannot stream (use application/json, application/protobuf or application/octet-stream)", req.Endpoint, ct)
}

// open sends the opening request with the request id as the stream's id.
func (c *Client) open(ctx context.Context, cancel context.CancelFunc, addr string, req *Request, ct, id string) (*Stream, error) {
	headers := requestHeaders(ctx, req, ct, id, 1)
	headers = append(headers, component.TransportHeader{Name: []byte(transport.HeaderStream), Value: []byte(id)})
	cs, err := c.transport.Stream(ctx, addr, headers, req.Body)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, c.timedOut(req, addr)
		}
		return nil, fmt.Errorf("stream %s at %s: %w", req.Endpoint, addr, err)
	}
	return &Stream{cs: cs, cancel: cancel, req: req, addr: addr}, nil
}

// err turns a transport error into the stream's: a 408 *abi.Error at the deadline.
func (s *Stream) err(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return abi.NewError(ID, http.StatusRequestTimeout, "stream %s at %s: %s: timed out", s.req.Endpoint, s.addr, op)
	}
	return fmt.Errorf("stream %s at %s: %s: %w", s.req.Endpoint, s.addr, op, err)
}

// Send sends the next message.
func (s *Stream) Send(body []byte) error {
	if err := s.cs.Send(body); err != nil {
		return s.err("send", err)
	}
	return nil
}

// CloseSend tells the service that no message follows; Recv still returns its messages.
func (s *Stream) CloseSend() error {
	if err := s.cs.CloseSend(); err != nil {
		return s.err("close", err)
	}
	return nil
}

// Recv returns the service's next message. It returns io.EOF once the stream ended, and the
// Go Micro error that ended it as an *abi.Error (408 at the deadline).
func (s *Stream) Recv() ([]byte, error) {
	msg, err := s.cs.Recv()
	if err == nil {
		return msg, nil
	}
	// The stream is over: its connection is pooled or closed, and its deadline not needed.
	s.cancel()
	var ae *abi.Error
	switch {
	case err == io.EOF, errors.As(err, &ae): // the end mark only; a cut connection is an error
		return nil, err
	default:
		return nil, s.err("receive", err)
	}
}

// Close releases the stream: one that has not ended is broken off, which its handler sees as
// the client being gone. It is safe to call more than once.
func (s *Stream) Close() error {
	err := s.cs.Close()
	s.cancel()
	return err
}
