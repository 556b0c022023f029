package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// streamer serves streams by the first message: "N" sends m1 … mN, then echoes every
// message until the client's end and answers "done"; "early:N" sends N and returns without
// receiving; "wait" waits 50 ms for a message that does not come. Unary requests are
// echoed. Send and receive failures go to errs.
type streamer struct{ errs chan error }

func (s *streamer) ServeMessage(ctx context.Context, m *Message) *Reply {
	if m.Stream == nil {
		return &Reply{Status: 200, Body: append([]byte("unary:"), m.Body...)}
	}
	mode := string(m.Body)
	if mode == "wait" {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := m.Stream.Recv(wctx)
		s.errs <- err
		return &Reply{Status: 408, Body: []byte(abi.NewError("streamer", 408, "no message in time").Error())}
	}
	early := strings.HasPrefix(mode, "early:")
	n, err := strconv.Atoi(strings.TrimPrefix(mode, "early:"))
	if err != nil {
		return &Reply{Status: 200, Header: []component.TransportHeader{{Name: []byte("Micro-Error"), Value: []byte(abi.NewError("streamer", 400, "bad mode %q", mode).Error())}}}
	}
	hdr := []component.TransportHeader{{Name: []byte("Content-Type"), Value: []byte("text/plain")}}
	for i := 1; i <= n; i++ {
		if err := m.Stream.Send(ctx, hdr, []byte(fmt.Sprintf("m%d", i))); err != nil {
			s.errs <- err
			return &Reply{Status: 200}
		}
	}
	if early {
		return &Reply{Status: 200, Body: []byte("done early")}
	}
	for {
		msg, err := m.Stream.Recv(ctx)
		if errors.Is(err, io.EOF) {
			return &Reply{Status: 200, Body: []byte("done")}
		}
		if err != nil {
			s.errs <- err
			return &Reply{Status: 200}
		}
		if err := m.Stream.Send(ctx, hdr, append([]byte("echo:"), msg...)); err != nil {
			s.errs <- err
			return &Reply{Status: 200}
		}
	}
}

func readReply(t *testing.T, r *bufio.Reader) (*http.Response, string) {
	t.Helper()
	rsp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp, string(b)
}

// TestStreamWire drives a stream with raw bytes and reads the frames with net/http's
// parser: the opening request, N replies, the client's messages and end, the last reply,
// then a unary request on the same connection.
func TestStreamWire(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		_, addr := serve(t, &streamer{errs: make(chan error, 4)}, ServerOptions{NewFramer: nf})
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: s1\r\nContent-Length: 1\r\n\r\n3")
		require.NoError(t, err)
		for i := 1; i <= 3; i++ {
			rsp, body := readReply(t, r)
			assert.Equal(t, 200, rsp.StatusCode)
			assert.Equal(t, "s1", rsp.Header.Get("Micro-Stream"))
			assert.Empty(t, rsp.Header.Get("Micro-Stream-End"))
			assert.Equal(t, "text/plain", rsp.Header.Get("Content-Type"))
			assert.Equal(t, fmt.Sprintf("m%d", i), body)
		}
		for _, msg := range []string{"a", "bb"} {
			_, err = fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: s1\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
			require.NoError(t, err)
			_, body := readReply(t, r)
			assert.Equal(t, "echo:"+msg, body)
		}
		_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: s1\r\nMicro-Stream-End: true\r\nContent-Length: 0\r\n\r\n")
		require.NoError(t, err)
		rsp, body := readReply(t, r)
		assert.Equal(t, "true", rsp.Header.Get("Micro-Stream-End"))
		assert.Equal(t, "done", body)
		assert.False(t, rsp.Close, "the connection stays open")

		_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
		require.NoError(t, err)
		rsp, body = readReply(t, r)
		assert.Equal(t, "unary:hi", body)
		assert.Empty(t, rsp.Header.Get("Micro-Stream"))
	})
}

func TestClientStream(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		_, addr := serve(t, &streamer{errs: make(chan error, 4)}, ServerOptions{NewFramer: nf})
		c := NewClient(ClientOptions{})
		defer c.Close()
		ctx := context.Background()

		t.Run("server streaming", func(t *testing.T) {
			idle := c.Idle(addr)
			s, err := c.Stream(ctx, addr, nil, []byte("100"))
			require.NoError(t, err)
			require.NoError(t, s.CloseSend())
			for i := 1; i <= 100; i++ {
				msg, err := s.Recv()
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("m%d", i), string(msg))
			}
			msg, err := s.Recv()
			require.NoError(t, err)
			assert.Equal(t, "done", string(msg), "the last frame's body")
			_, err = s.Recv()
			require.ErrorIs(t, err, io.EOF)
			_, err = s.Recv()
			require.ErrorIs(t, err, io.EOF)
			assert.Equal(t, idle+1, c.Idle(addr), "the connection joined the pool after a clean end")
			require.ErrorIs(t, s.Send([]byte("late")), ErrStreamClosed)
			require.NoError(t, s.Close())

			rep, err := c.Call(ctx, addr, nil, []byte("x"))
			require.NoError(t, err)
			assert.Equal(t, "unary:x", string(rep.Body))
			assert.Equal(t, idle+1, c.Idle(addr), "the unary call reused a pooled connection")
		})

		t.Run("bidirectional", func(t *testing.T) {
			s, err := c.Stream(ctx, addr, []component.TransportHeader{{Name: []byte("Micro-Stream"), Value: []byte("id-7")}}, []byte("0"))
			require.NoError(t, err)
			for i := range 20 {
				require.NoError(t, s.Send([]byte(strconv.Itoa(i))))
				msg, err := s.Recv()
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("echo:%d", i), string(msg))
			}
			require.NoError(t, s.CloseSend())
			msg, err := s.Recv()
			require.NoError(t, err)
			assert.Equal(t, "done", string(msg))
			_, err = s.Recv()
			require.ErrorIs(t, err, io.EOF)
		})

		t.Run("handler ends first", func(t *testing.T) {
			idle := c.Idle(addr)
			s, err := c.Stream(ctx, addr, nil, []byte("early:2"))
			require.NoError(t, err)
			for range 3 {
				require.NoError(t, s.Send([]byte("unread")))
			}
			var got []string
			for {
				msg, err := s.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				got = append(got, string(msg))
			}
			assert.Equal(t, []string{"m1", "m2", "done early"}, got)
			assert.Equal(t, idle+1, c.Idle(addr))
			rep, err := c.Call(ctx, addr, nil, []byte("after"))
			require.NoError(t, err)
			assert.Equal(t, "unary:after", string(rep.Body), "the server read past the unread messages")
		})

		t.Run("error ends the stream", func(t *testing.T) {
			idle := c.Idle(addr)
			s, err := c.Stream(ctx, addr, nil, []byte("bogus"))
			require.NoError(t, err)
			_, err = s.Recv()
			var ae *abi.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int32(400), ae.Code)
			assert.Contains(t, ae.Detail, "bad mode")
			assert.Equal(t, idle+1, c.Idle(addr), "an error ends the stream cleanly")
		})
	})
}

func TestStreamRecvDeadline(t *testing.T) {
	st := &streamer{errs: make(chan error, 1)}
	_, addr := serve(t, st, ServerOptions{NewFramer: testNative})
	c := NewClient(ClientOptions{})
	defer c.Close()
	s, err := c.Stream(context.Background(), addr, nil, []byte("wait"))
	require.NoError(t, err)
	defer s.Close()
	require.ErrorIs(t, <-st.errs, context.DeadlineExceeded)
	_, err = s.Recv()
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(408), ae.Code)
	assert.Equal(t, 0, c.Idle(addr), "a stream whose read side failed ends its connection")
}

// TestClientGoneMidStream: the client reads a few messages and goes away; the handler's
// next sends fail, it returns, and every goroutine of the stream ends.
func TestClientGoneMidStream(t *testing.T) {
	framers(t, func(t *testing.T, nf func() Framer) {
		st := &streamer{errs: make(chan error, 1)}
		_, addr := serve(t, st, ServerOptions{NewFramer: nf})
		c := NewClient(ClientOptions{})
		defer c.Close()
		baseline := runtime.NumGoroutine()
		s, err := c.Stream(context.Background(), addr, nil, []byte("100000000"))
		require.NoError(t, err)
		for range 3 {
			_, err := s.Recv()
			require.NoError(t, err)
		}
		require.NoError(t, s.Close())
		select {
		case err := <-st.errs:
			require.ErrorContains(t, err, "stream: send")
		case <-time.After(10 * time.Second):
			t.Fatal("the handler kept sending to a client that is gone")
		}
		requireGoroutines(t, baseline)
	})
}

// requireGoroutines polls until no more than n goroutines run. It polls on the test's own
// goroutine, as testify's Eventually runs its condition on a goroutine of its own.
func requireGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClientStreamContextCancel(t *testing.T) {
	st := &streamer{errs: make(chan error, 1)}
	_, addr := serve(t, st, ServerOptions{NewFramer: testNative})
	c := NewClient(ClientOptions{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Stream(ctx, addr, nil, []byte("0"))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Recv outlived its context")
	}
	select {
	case err := <-st.errs:
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the handler's receive failed as the connection closed")
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not see the client go")
	}
}

// TestStreamEndForms: the opening request may close the client's side at once, and an end
// may carry a last message; a Go Micro client's end (Micro-Error: EOS) ends the stream too.
func TestStreamEndForms(t *testing.T) {
	_, addr := serve(t, &streamer{errs: make(chan error, 4)}, ServerOptions{NewFramer: testNative})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)

	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: a\r\nMicro-Stream-End: true\r\nContent-Length: 1\r\n\r\n2")
	require.NoError(t, err)
	var bodies []string
	for {
		rsp, body := readReply(t, r)
		bodies = append(bodies, body)
		if rsp.Header.Get("Micro-Stream-End") == "true" {
			break
		}
	}
	assert.Equal(t, []string{"m1", "m2", "done"}, bodies)

	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: b\r\nContent-Length: 1\r\n\r\n0"+
		"POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: b\r\nMicro-Stream-End: true\r\nContent-Length: 4\r\n\r\nlast")
	require.NoError(t, err)
	_, body := readReply(t, r)
	assert.Equal(t, "echo:last", body)
	rsp, body := readReply(t, r)
	assert.Equal(t, "true", rsp.Header.Get("Micro-Stream-End"))
	assert.Equal(t, "done", body)

	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: c\r\nContent-Length: 1\r\n\r\n0"+
		"POST / HTTP/1.1\r\nHost: x\r\nMicro-Stream: c\r\nMicro-Error: EOS\r\nContent-Length: 0\r\n\r\n")
	require.NoError(t, err)
	rsp, body = readReply(t, r)
	assert.Equal(t, "true", rsp.Header.Get("Micro-Stream-End"))
	assert.Equal(t, "done", body)

	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
	require.NoError(t, err)
	_, body = readReply(t, r)
	assert.Equal(t, "unary:ok", body)
}

// BenchmarkStreamMessage measures one message of a server-side stream: the handler's Send
// (head through the framer, one writev) and the client's Recv.
func BenchmarkStreamMessage(b *testing.B) {
	for _, mode := range []string{"native", "wasm"} {
		b.Run(mode, func(b *testing.B) {
			nf := testNative
			if mode == "wasm" {
				m := loadModule(b)
				nf = func() Framer { return &Wasm{Module: m} }
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			s := NewServer(&streamer{errs: make(chan error, 1)}, ServerOptions{NewFramer: nf})
			go func() { _ = s.Serve(ln) }()
			defer s.Shutdown(context.Background())
			c := NewClient(ClientOptions{})
			defer c.Close()
			b.ReportAllocs()
			b.ResetTimer()
			st, err := c.Stream(context.Background(), ln.Addr().String(), nil, []byte(strconv.Itoa(b.N)))
			require.NoError(b, err)
			require.NoError(b, st.CloseSend())
			for range b.N {
				if _, err := st.Recv(); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := st.Recv(); err != nil {
				b.Fatal(err) // the last frame, "done"
			}
		})
	}
}

// TestClientStreamGoMicroEnd: a server that ends a stream as Go Micro's does, with a frame
// whose only mark is Micro-Error: EOS, ends it cleanly for the client; the client's end of
// its side carries both microhost's and Go Micro's marks.
func TestClientStreamGoMicroEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ends := make(chan http.Header, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		if _, err := http.ReadRequest(r); err != nil { // the opening request
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nMicro-Stream: 1\r\nContent-Length: 2\r\n\r\nm1"+
			"HTTP/1.1 200 OK\r\nMicro-Stream: 1\r\nMicro-Error: EOS\r\nContent-Length: 0\r\n\r\n")
		req, err := http.ReadRequest(r) // the client's end of its side
		if err != nil {
			return
		}
		ends <- req.Header
	}()

	c := NewClient(ClientOptions{})
	defer c.Close()
	s, err := c.Stream(context.Background(), ln.Addr().String(), nil, []byte("go"))
	require.NoError(t, err)
	defer s.Close()
	msg, err := s.Recv()
	require.NoError(t, err)
	assert.Equal(t, "m1", string(msg))
	_, err = s.Recv()
	require.ErrorIs(t, err, io.EOF, "Go Micro's EOS mark is the end, not an error")
	hdr := <-ends
	assert.Equal(t, "true", hdr.Get("Micro-Stream-End"))
	assert.Equal(t, "EOS", hdr.Get("Micro-Error"))
}
