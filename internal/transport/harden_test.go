package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlowlorisIsCutAtTheReadTimeout: a client trickling its request a byte at a time is
// answered 408 once ReadTimeout has passed since its first byte, however often it sends.
func TestSlowlorisIsCutAtTheReadTimeout(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		_, addr := serve(t, &echo{}, ServerOptions{NewFramer: nf, ReadTimeout: 500 * time.Millisecond})
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		start := time.Now()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			req := "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
			for i := range len(req) {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := c.Write([]byte{req[i]}); err != nil {
					return
				}
			}
		}()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(bufio.NewReader(c))
		took := time.Since(start)
		assert.True(t, strings.HasPrefix(string(got), "HTTP/1.1 408 "), "got %q", got)
		assert.Less(t, took, 2*time.Second, "cut after %v", took)
	})
}

// TestConnectionCap: at MaxConns open connections the server accepts no more until one
// closes; then the waiting client is served.
func TestConnectionCap(t *testing.T) {
	_, addr := serve(t, &echo{}, ServerOptions{NewFramer: func() Framer { return testNative() }, MaxConns: 2})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		held = append(held, c)
	}
	// Make sure both are accepted (served once each) before the third arrives.
	for _, c := range held {
		_, err := io.WriteString(c, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "HTTP/1.1 200"), line)
	}
	third, err := net.Dial("tcp", addr) // completes in the kernel's backlog
	require.NoError(t, err)
	defer third.Close()
	_, err = io.WriteString(third, "POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	require.NoError(t, err)
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = third.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne, "the third connection was served past the cap")
	require.True(t, ne.Timeout())

	held[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(third)
	assert.True(t, strings.HasSuffix(string(got), "echo:ok"), "%q", got)
}

// TestCutStreamIsAnError: a stream whose connection closes before its end mark fails the
// client's Recv with a transport error, not io.EOF.
func TestCutStreamIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		// The whole request is read, so that closing sends a plain end of stream and not
		// a reset for bytes left unread.
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		// Two messages, then the server dies: no end mark.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nMicro-Stream: 1\r\nContent-Length: 2\r\n\r\nm1"+
			"HTTP/1.1 200 OK\r\nMicro-Stream: 1\r\nContent-Length: 2\r\n\r\nm2")
	}()
	c := NewClient(ClientOptions{})
	defer c.Close()
	s, err := c.Stream(context.Background(), ln.Addr().String(), nil, []byte("go"))
	require.NoError(t, err)
	defer s.Close()
	for _, want := range []string{"m1", "m2"} {
		msg, err := s.Recv()
		require.NoError(t, err)
		assert.Equal(t, want, string(msg))
	}
	_, err = s.Recv()
	require.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF, "a cut stream must not look like its end")
	assert.ErrorIs(t, err, ErrTransport)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = s.Recv()
	assert.NotErrorIs(t, err, io.EOF)
}

// blocker holds each request until its context is done, and reports that it was.
type blocker struct{ cancelled chan struct{} }

func (b *blocker) ServeMessage(ctx context.Context, m *Message) *Reply {
	<-ctx.Done()
	close(b.cancelled)
	return &Reply{Status: 503}
}

// TestDrainCancelsRequestsAtItsEnd: a request still running when the drain runs out of
// time has its context cancelled (request contexts derive from the server's life).
func TestDrainCancelsRequestsAtItsEnd(t *testing.T) {
	b := &blocker{cancelled: make(chan struct{})}
	s, addr := serve(t, b, ServerOptions{NewFramer: func() Framer { return testNative() }})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.InFlight() == 1 }, 5*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	select {
	case <-b.cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the request's context was not cancelled at the end of the drain")
	}
}
