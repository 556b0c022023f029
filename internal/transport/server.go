package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// Message is one request as the framer read it, handed to the pipeline unchanged: the server
// reads its fields where they lie, so a request's header keeps one shape from the wire to the
// handler's metadata. Header and Body point into the connection's buffer and are valid until
// the handler returns.
type Message struct {
	// Header holds the header fields in the order and spelling the caller wrote them.
	Header []component.TransportHeader
	Body   []byte
	// Stream is set when the request opened a stream (it carries a Micro-Stream header): the
	// handler sends messages and receives the client's next ones through it until it
	// returns, and its Reply is the stream's last frame. Body, then, is the first message
	// and the handler's to keep. Nil for a unary request.
	Stream Stream
}

// Get returns the value of the first header field named name, compared case-insensitively,
// or "" when there is none.
func (m *Message) Get(name string) string {
	v, _ := component.GetTransportHeader(m.Header, name)
	return string(v)
}

// Reply is the pipeline's answer.
type Reply struct {
	Status int
	Header []component.TransportHeader
	Body   []byte
}

// Handler is the server pipeline behind the transport.
type Handler interface {
	ServeMessage(ctx context.Context, m *Message) *Reply
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// NewFramer returns the framer for one connection: a transport twin's NewFramer, or a
	// Wasm over a transport module. Required: without one every request is refused.
	NewFramer func() Framer
	// Limits bound header and body sizes.
	Limits component.TransportLimits
	// ReadTimeout bounds reading one request, head and body, from its first byte (default
	// 10 s): the deadline is set once and not moved by later bytes, so a client that sends
	// half a request, or a byte at a time, is answered 408 and cut off when it passes.
	ReadTimeout time.Duration
	// MaxConns caps the connections open at once (default DefaultMaxConns). At the cap the
	// server stops accepting: new connections wait in the listener's backlog until one
	// closes.
	MaxConns int
	// IdleTimeout bounds waiting for the next request on a kept-alive connection (default
	// 2 min).
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one reply (default 10 s).
	WriteTimeout time.Duration
	// Logger receives connection errors. Nil discards them.
	Logger *slog.Logger
}

// Server serves a Handler over TCP connections.
type Server struct {
	opts    ServerOptions
	handler Handler
	logger  *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool // value: a request is in progress
	closing  bool
	wg       sync.WaitGroup
	shutOnce sync.Once
	// slots holds a token per open connection (MaxConns); closed is closed by Shutdown.
	slots  chan struct{}
	closed chan struct{}
	// life is the parent of every request's context; kill cancels it when a drain runs
	// out of time, so handlers still running are stopped.
	life context.Context
	kill context.CancelFunc
}

// NewServer returns a Server for h.
func NewServer(h Handler, opts ServerOptions) *Server {
	if opts.NewFramer == nil {
		opts.NewFramer = func() Framer { return noFramer{} }
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	life, kill := context.WithCancel(context.Background())
	return &Server{opts: opts, handler: h, logger: logger, conns: map[net.Conn]bool{},
		slots: make(chan struct{}, opts.MaxConns), closed: make(chan struct{}), life: life, kill: kill}
}

// InFlight returns how many connections are serving a request.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, busy := range s.conns {
		if busy {
			n++
		}
	}
	return n
}

// DefaultMaxConns is the default cap on open connections.
const DefaultMaxConns = 1024

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("transport: server closed")

// Serve accepts connections on ln until Shutdown, serving each on a goroutine of its own.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration
	for {
		select {
		case s.slots <- struct{}{}:
		default:
			s.logger.Warn("transport: at the connection limit; new connections wait until one closes", "max_connections", s.opts.MaxConns)
			select {
			case s.slots <- struct{}{}:
			case <-s.closed:
				return ErrServerClosed
			}
		}
		c, err := ln.Accept()
		if err != nil {
			<-s.slots
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			<-s.slots
			return ErrServerClosed
		}
		s.conns[c] = false
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Shutdown stops accepting, closes idle connections, lets requests in progress finish and
// waits for them until ctx is done; then it cancels the requests' contexts (every request's
// context derives from the server's life) and closes their connections. It is safe to call
// more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		close(s.closed)
		if s.ln != nil {
			s.ln.Close()
		}
		for c, busy := range s.conns {
			if !busy {
				c.Close()
			}
		}
		s.mu.Unlock()
	})
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Out of time: cancel the requests still running (their guests are stopped) and
		// close their connections.
		s.kill()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// setBusy records whether c is serving a request; it reports false when the server is
// shutting down and an idle c should stop.
func (s *Server) setBusy(c net.Conn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = busy
	return !s.closing
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
		<-s.slots
	}()
	ctx := s.life
	sc := &serverConn{s: s, c: c, framer: s.opts.NewFramer(), lim: s.opts.Limits, buf: make([]byte, 0, 4096)}
	sc.maxBuf = sc.lim.HeaderBytes() + sc.lim.BodyBytes() + 4
	var out []byte
	for {
		if err := sc.next(ctx, false); err != nil {
			var fe *component.TransportError
			switch {
			case errors.As(err, &fe):
				s.writeFramingError(ctx, c, sc.framer, out, fe)
			case errors.Is(err, errReadTimeout):
				s.writeFramingError(ctx, c, sc.framer, out, &component.TransportError{Status: 408, Reason: "request not received in time"})
			case errors.Is(err, errRead):
			default:
				s.logger.Warn("transport: framing failed", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		f := &sc.f
		msg := &Message{Header: f.Headers, Body: f.Body}
		keepAlive := f.KeepAlive
		var st *serverStream
		if id, _ := streamMarks(f.Headers); id != nil {
			st = sc.openStream(msg, id)
		}
		reply := s.handler.ServeMessage(ctx, msg)
		s.mu.Lock()
		if s.closing {
			keepAlive = false
		}
		s.mu.Unlock()
		if st != nil {
			if !st.end(ctx, reply, keepAlive) {
				return
			}
			continue
		}
		var err error
		out, err = sc.framer.Head(ctx, out[:0], reply.Status, reply.Header, len(reply.Body), keepAlive)
		if err != nil {
			s.logger.Warn("transport: encoding reply failed", "err", err)
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		bufs := net.Buffers{out, reply.Body}
		if _, err := bufs.WriteTo(c); err != nil {
			return
		}
		if !keepAlive {
			return
		}
	}
}

// serverConn is one connection's read side: its buffer, its framer and the request last
// framed.
type serverConn struct {
	s      *Server
	c      net.Conn
	framer Framer
	lim    component.TransportLimits
	maxBuf int
	buf    []byte
	// n is how many bytes of buf the request in f takes; next drops them.
	n int
	f Frame
}

var (
	// errRead is wrapped by next's errors from reading the connection.
	errRead = errors.New("transport: read")
	// errReadTimeout is wrapped by next's error when a request was begun but not finished
	// in time.
	errReadTimeout = errors.New("transport: request not received in time")
	// errServerClosing is next's error when the server shuts down between requests.
	errServerClosing = errors.New("transport: server shutting down")
)

// next drops the request last framed and frames the one after it into sc.f, reading more
// bytes as needed: up to IdleTimeout for the first byte, then ReadTimeout from it for the
// whole request.
// Between requests the connection counts as idle, unless inStream says a stream is open;
// then ctx bounds the wait as well (its cancellation must also set a past read deadline).
func (sc *serverConn) next(ctx context.Context, inStream bool) error {
	if sc.n > 0 {
		sc.buf = sc.buf[:copy(sc.buf, sc.buf[sc.n:])]
		sc.n = 0
	}
	n, err := sc.framer.Frame(ctx, sc.buf, sc.lim, &sc.f)
	// deadline is the request's: set when its first byte is in, never moved after.
	var deadline time.Time
	for err == nil && n == 0 {
		if len(sc.buf) == 0 {
			if !inStream && !sc.s.setBusy(sc.c, false) {
				return errServerClosing
			}
			_ = sc.c.SetReadDeadline(time.Now().Add(sc.s.opts.IdleTimeout))
		} else {
			if deadline.IsZero() {
				deadline = time.Now().Add(sc.s.opts.ReadTimeout)
			}
			_ = sc.c.SetReadDeadline(deadline)
		}
		if inStream && ctx.Err() != nil {
			return ctx.Err()
		}
		if len(sc.buf) == cap(sc.buf) {
			if cap(sc.buf) >= sc.maxBuf {
				return component.ErrBodyTooLarge
			}
			grown := make([]byte, len(sc.buf), min(2*cap(sc.buf), sc.maxBuf))
			copy(grown, sc.buf)
			sc.buf = grown
		}
		var m int
		m, err = sc.c.Read(sc.buf[len(sc.buf):cap(sc.buf)])
		sc.buf = sc.buf[:len(sc.buf)+m]
		if err != nil {
			if inStream && ctx.Err() != nil {
				return ctx.Err()
			}
			if len(sc.buf) > 0 && isTimeout(err) {
				return fmt.Errorf("%w: %w", errReadTimeout, err)
			}
			return fmt.Errorf("%w: %w", errRead, err)
		}
		if !inStream && len(sc.buf) > 0 {
			sc.s.setBusy(sc.c, true)
		}
		n, err = sc.framer.Frame(ctx, sc.buf, sc.lim, &sc.f)
	}
	if err != nil {
		return err
	}
	sc.n = n
	return nil
}

// writeFramingError answers a request that could not be framed and ends the connection.
func (s *Server) writeFramingError(ctx context.Context, c net.Conn, framer Framer, out []byte, fe *component.TransportError) {
	body := []byte(abi.NewError("transport", int32(fe.Status), "%s", fe.Reason).Error())
	head, err := framer.Head(ctx, out[:0], fe.Status, []component.TransportHeader{{Name: []byte(component.HeaderContentType), Value: []byte("application/json")}}, len(body), false)
	if err != nil {
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	bufs := net.Buffers{head, body}
	_, _ = bufs.WriteTo(c)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		// Drain briefly so the client reads the reply rather than a reset.
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<16))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// noFramer is the framer of a server given none: it refuses every request.
type noFramer struct{ goMicroWire }

func (noFramer) Frame(context.Context, []byte, component.TransportLimits, *Frame) (int, error) {
	return 0, errors.New("transport: the server has no framer (ServerOptions.NewFramer)")
}

func (noFramer) Head(_ context.Context, dst []byte, _ int, _ []component.TransportHeader, _ int, _ bool) ([]byte, error) {
	return dst, errors.New("transport: the server has no framer (ServerOptions.NewFramer)")
}
