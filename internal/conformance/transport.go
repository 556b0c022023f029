package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// transportSuite is the transport kind's acceptance suite (abi/transport.md): the framer
// frames well-formed mucp requests, asks for more bytes on a partial one, refuses malformed
// input with the contract's status, frames pipelined requests one at a time, and writes
// reply heads that parse as HTTP/1.1. The implementation is a func() component.Framer; a
// module's framer is the host's Wasm adapter over it, so a module passes exactly when the
// host's server can use it.
func transportSuite() suite {
	return suite{
		ops: component.TransportOps,
		wasm: func(ctx context.Context, l wasmcomponent.Loader, path, name string) (any, func(context.Context) error, error) {
			m, err := wasmcomponent.Load(ctx, l, wasmcomponent.Spec{
				Kind: component.KindTransport, Name: name, Path: path, Ops: component.TransportOps,
				Options: host.ModuleOptions{PoolSize: 1},
			})
			if err != nil {
				return nil, nil, err
			}
			return func() component.Framer { return &transport.Wasm{Module: m} }, m.Close, nil
		},
		native: func(_ context.Context, t component.Twin) (any, func(context.Context) error, error) {
			tt, ok := t.Native.(component.TransportTwin)
			if !ok || tt.NewFramer == nil {
				return nil, nil, fmt.Errorf("transport twin %q: Native is a %T, not a component.TransportTwin", t.Name, t.Native)
			}
			return tt.NewFramer, noRelease, nil
		},
		check: func(ctx context.Context, r *Report, impl any) {
			checkTransport(ctx, r, impl.(func() component.Framer))
		},
	}
}

// conformRequest is a well-formed mucp request as Go Micro's client sends it.
const conformRequest = "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n" +
	"Micro-Service: greeter\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Method: Greeter.Hello\r\n" +
	"Micro-Id: 42\r\nTimeout: 5000000000\r\nContent-Length: 15\r\n\r\n{\"name\":\"John\"}"

// conformLimits are the limits the checks frame with.
var conformLimits = component.TransportLimits{MaxHeaderBytes: 1024, MaxBodyBytes: 4096}

func checkTransport(ctx context.Context, r *Report, newFramer func() component.Framer) {
	fr := newFramer()
	frame := func(in string, lim component.TransportLimits) (int, *component.TransportFrame, error) {
		var f component.TransportFrame
		n, err := fr.Frame(ctx, []byte(in), lim, &f)
		return n, &f, err
	}

	r.Check("frames a well-formed mucp POST", func() error {
		n, f, err := frame(conformRequest, conformLimits)
		if err != nil {
			return err
		}
		if n != len(conformRequest) {
			return fmt.Errorf("consumed %d bytes of a %d-byte request", n, len(conformRequest))
		}
		if string(f.Method) != "POST" || string(f.Target) != "/" {
			return fmt.Errorf("method %q target %q, want POST /", f.Method, f.Target)
		}
		for _, want := range [][2]string{{"Content-Type", "application/json"}, {"Micro-Service", "greeter"}, {"micro-endpoint", "Greeter.Hello"}, {"Micro-Id", "42"}, {"Timeout", "5000000000"}, {"Host", "127.0.0.1:8080"}} {
			if v, ok := f.Get(want[0]); !ok || string(v) != want[1] {
				return fmt.Errorf("header %s is %q (present %v), want %q", want[0], v, ok, want[1])
			}
		}
		if len(f.Headers) != 8 {
			return fmt.Errorf("%d headers, want the request's 8, in order", len(f.Headers))
		}
		if f.ContentLength != 15 || string(f.Body) != `{"name":"John"}` {
			return fmt.Errorf("body %q (Content-Length %d), want {\"name\":\"John\"} (15)", f.Body, f.ContentLength)
		}
		if !f.KeepAlive {
			return errors.New("an HTTP/1.1 request without Connection: close is not kept alive")
		}
		return nil
	}())

	r.Check("honours Connection: close and HTTP/1.0 keep-alive", func() error {
		for _, c := range []struct {
			in   string
			keep bool
		}{
			{"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
			{"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", false},
			{"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
		} {
			n, f, err := frame(c.in, conformLimits)
			if err != nil || n != len(c.in) {
				return fmt.Errorf("%q: consumed %d, %v", c.in, n, err)
			}
			if f.KeepAlive != c.keep {
				return fmt.Errorf("%q: keep-alive %v, want %v", c.in, f.KeepAlive, c.keep)
			}
		}
		return nil
	}())

	r.Check("asks for more bytes on every prefix of a request", func() error {
		for i := 0; i < len(conformRequest); i++ {
			n, _, err := frame(conformRequest[:i], conformLimits)
			if n != 0 || err != nil {
				return fmt.Errorf("the first %d bytes: consumed %d, error %v; want 0 and no error", i, n, err)
			}
		}
		return nil
	}())

	r.Check("frames pipelined requests one at a time", func() error {
		second := "POST / HTTP/1.1\r\nMicro-Endpoint: Two.Two\r\nContent-Length: 3\r\n\r\ntwo"
		buf := []byte(conformRequest + second + "POST / HT")
		var f component.TransportFrame
		n, err := fr.Frame(ctx, buf, conformLimits, &f)
		if err != nil || n != len(conformRequest) {
			return fmt.Errorf("first request: consumed %d, %v; want %d", n, err, len(conformRequest))
		}
		m, err := fr.Frame(ctx, buf[n:], conformLimits, &f)
		if err != nil || m != len(second) || string(f.Body) != "two" {
			return fmt.Errorf("second request: consumed %d, body %q, %v; want %d, \"two\"", m, f.Body, err, len(second))
		}
		if v, _ := f.Get("Micro-Endpoint"); string(v) != "Two.Two" {
			return fmt.Errorf("second request's endpoint %q", v)
		}
		k, err := fr.Frame(ctx, buf[n+m:], conformLimits, &f)
		if k != 0 || err != nil {
			return fmt.Errorf("the third, partial request: consumed %d, %v; want 0", k, err)
		}
		return nil
	}())

	r.Check("frames a body larger than the header limit", func() error {
		body := strings.Repeat("z", 3000)
		in := "POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + body
		n, f, err := frame(in, conformLimits)
		if err != nil || n != len(in) || string(f.Body) != body {
			return fmt.Errorf("consumed %d of %d, body of %d bytes, %v", n, len(in), len(f.Body), err)
		}
		return nil
	}())

	r.Check("decodes a chunked body", func() error {
		in := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
		n, f, err := frame(in+"POST", conformLimits)
		if err != nil || n != len(in) || string(f.Body) != "abcde" || f.ContentLength != 5 {
			return fmt.Errorf("consumed %d of %d, body %q (length %d), %v; want abcde", n, len(in), f.Body, f.ContentLength, err)
		}
		for i := len(in) - 10; i < len(in); i++ {
			if n, _, err := frame(in[:i], conformLimits); n != 0 || err != nil {
				return fmt.Errorf("the first %d bytes: consumed %d, %v; want 0", i, n, err)
			}
		}
		return nil
	}())

	refusals := []struct {
		name   string
		in     string
		lim    component.TransportLimits
		status int
	}{
		{"a GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", conformLimits, 405},
		{"a POST with neither Content-Length nor chunked coding", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", conformLimits, 411},
		{"a body over the limit", "POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", conformLimits, 413},
		{"a chunked body over the limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n" + strings.Repeat("a", 4097) + "\r\n0\r\n\r\n", conformLimits, 413},
		{"a head over the limit", "POST / HTTP/1.1\r\nX: " + strings.Repeat("v", 2000) + "\r\nContent-Length: 0\r\n\r\n", conformLimits, 431},
		{"an unfinished head over the limit", "POST / HTTP/1.1\r\nX: " + strings.Repeat("v", 2000), conformLimits, 431},
		{"garbage", "garbage\r\n\r\n", conformLimits, 400},
		{"a bad header line", "POST / HTTP/1.1\r\nno colon\r\nContent-Length: 0\r\n\r\n", conformLimits, 400},
		{"two different Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", conformLimits, 400},
		{"both Content-Length and chunked coding", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", conformLimits, 400},
		{"a bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", conformLimits, 400},
		{"another transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", conformLimits, 501},
		{"another HTTP version", "POST / HTTP/2.0\r\nContent-Length: 0\r\n\r\n", conformLimits, 505},
	}
	for _, c := range refusals {
		r.Check(fmt.Sprintf("refuses %s with %d", c.name, c.status), func() error {
			n, _, err := frame(c.in, c.lim)
			var te *component.TransportError
			switch {
			case err == nil:
				return fmt.Errorf("accepted it (consumed %d)", n)
			case !errors.As(err, &te):
				return fmt.Errorf("failed without a framing error: %w", err)
			case te.Status != c.status:
				return fmt.Errorf("status %d (%s), want %d", te.Status, te.Reason, c.status)
			case n != 0:
				return fmt.Errorf("consumed %d bytes with an error", n)
			}
			return nil
		}())
	}

	r.Check("still frames after refusing", func() error {
		n, _, err := frame(conformRequest, conformLimits)
		if err != nil || n != len(conformRequest) {
			return fmt.Errorf("consumed %d, %v", n, err)
		}
		return nil
	}())

	r.Check("writes a reply head that parses as HTTP/1.1", checkHead(ctx, fr, 200, true))
	r.Check("writes an error reply head that closes the connection", checkHead(ctx, fr, 413, false))
	checkClient(ctx, r, fr)
}

// conformReply is a reply as a Go Micro server sends it, then the start of the next one.
const conformReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMicro-Id: 42\r\n" +
	"Content-Length: 25\r\n\r\n{\"greeting\":\"Hello John\"}"

// checkClient checks the client side: request heads and reply framing.
func checkClient(ctx context.Context, r *Report, fr component.Framer) {
	r.Check("writes a request head that parses as an HTTP/1.1 POST", func() error {
		headers := []component.TransportHeader{
			{Name: []byte("Content-Type"), Value: []byte("application/json")},
			{Name: []byte("Micro-Endpoint"), Value: []byte("Greeter.Hello")},
			{Name: []byte("X-Split"), Value: []byte("a\r\nX-Evil: 1")},
			{Name: nil, Value: []byte("nameless")},
			{Name: []byte("Content-Length"), Value: []byte("999")},
			{Name: []byte("Host"), Value: []byte("elsewhere")},
		}
		body := `{"name":"John"}`
		head, err := fr.Request(ctx, []byte("prefix"), "127.0.0.1:8080", headers, len(body))
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(head, []byte("prefix")) {
			return errors.New("request did not append to dst")
		}
		head = head[len("prefix"):]
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(head, body...))))
		if err != nil {
			return fmt.Errorf("the head is not an HTTP/1.1 request head: %w: %q", err, head)
		}
		got, err := io.ReadAll(req.Body)
		switch {
		case err != nil:
			return fmt.Errorf("reading the body after the head: %w", err)
		case req.Method != "POST" || req.ProtoMinor != 1:
			return fmt.Errorf("%s %s, want POST HTTP/1.1", req.Method, req.Proto)
		case req.Host != "127.0.0.1:8080":
			return fmt.Errorf("Host %q, want the node's address", req.Host)
		case string(got) != body || req.ContentLength != int64(len(body)):
			return fmt.Errorf("Content-Length %d, body %q", req.ContentLength, got)
		case req.Header.Get("Micro-Endpoint") != "Greeter.Hello" || req.Header.Get("Content-Type") != "application/json":
			return fmt.Errorf("headers %v lack the request's", req.Header)
		case req.Header.Get("X-Evil") != "" || req.Header.Get("X-Split") != "":
			return errors.New("a header value with CR LF was written: the request can be split")
		}
		return nil
	}())

	frame := func(in string) (int, *component.TransportResponse, error) {
		var rsp component.TransportResponse
		n, err := fr.Response(ctx, []byte(in), conformLimits, &rsp)
		return n, &rsp, err
	}
	r.Check("frames a Go Micro reply", func() error {
		n, rsp, err := frame(conformReply + "HTTP/1.1 2")
		switch {
		case err != nil:
			return err
		case n != len(conformReply):
			return fmt.Errorf("consumed %d bytes of a %d-byte reply", n, len(conformReply))
		case rsp.Status != 200 || !rsp.KeepAlive:
			return fmt.Errorf("status %d keep-alive %v, want 200 and true", rsp.Status, rsp.KeepAlive)
		case string(rsp.Body) != `{"greeting":"Hello John"}`:
			return fmt.Errorf("body %q", rsp.Body)
		}
		if v, _ := rsp.Get("Micro-Id"); string(v) != "42" {
			return fmt.Errorf("Micro-Id %q, want 42", v)
		}
		return nil
	}())
	r.Check("asks for more bytes on every prefix of a reply", func() error {
		for i := 0; i < len(conformReply); i++ {
			if n, _, err := frame(conformReply[:i]); n != 0 || err != nil {
				return fmt.Errorf("the first %d bytes: consumed %d, error %v; want 0 and no error", i, n, err)
			}
		}
		return nil
	}())
	r.Check("frames a chunked reply and one that closes", func() error {
		in := "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
		n, rsp, err := frame(in)
		if err != nil || n != len(in) || string(rsp.Body) != "ab" || rsp.Status != 500 || rsp.KeepAlive {
			return fmt.Errorf("consumed %d of %d, status %d, body %q, keep-alive %v, %v", n, len(in), rsp.Status, rsp.Body, rsp.KeepAlive, err)
		}
		return nil
	}())
	for _, c := range []struct {
		name, in string
		status   int
	}{
		{"a bad status line", "HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n", 400},
		{"a reply body over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", 413},
	} {
		r.Check(fmt.Sprintf("refuses %s with %d", c.name, c.status), func() error {
			n, _, err := frame(c.in)
			var te *component.TransportError
			switch {
			case err == nil:
				return fmt.Errorf("accepted it (consumed %d)", n)
			case !errors.As(err, &te):
				return fmt.Errorf("failed without a framing error: %w", err)
			case te.Status != c.status:
				return fmt.Errorf("status %d (%s), want %d", te.Status, te.Reason, c.status)
			}
			return nil
		}())
	}
}

// checkHead writes a head with fr and parses it with net/http.
func checkHead(ctx context.Context, fr component.Framer, status int, keepAlive bool) error {
	headers := []component.TransportHeader{
		{Name: []byte("Content-Type"), Value: []byte("application/json")},
		{Name: []byte("Micro-Id"), Value: []byte("42")},
		{Name: []byte("X-Split"), Value: []byte("a\r\nSet-Cookie: evil")},
		{Name: []byte("Bad Name"), Value: []byte("x")},
		{Name: nil, Value: []byte("nameless")},
		{Name: []byte("Content-Length"), Value: []byte("999")},
	}
	body := `{"greeting":"Hello John"}`
	prefix := []byte("prefix")
	head, err := fr.Head(ctx, prefix, status, headers, len(body), keepAlive)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(head, prefix) {
		return errors.New("head did not append to dst")
	}
	head = head[len(prefix):]
	rsp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, body...))), nil)
	if err != nil {
		return fmt.Errorf("the head is not an HTTP/1.1 response head: %w: %q", err, head)
	}
	got, err := io.ReadAll(rsp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("reading the body after the head: %w", err)
	case rsp.ProtoMajor != 1 || rsp.ProtoMinor != 1:
		return fmt.Errorf("protocol %s, want HTTP/1.1", rsp.Proto)
	case rsp.StatusCode != status:
		return fmt.Errorf("status %d, want %d", rsp.StatusCode, status)
	case string(got) != body || rsp.ContentLength != int64(len(body)):
		return fmt.Errorf("Content-Length %d, body %q; want %d, %q", rsp.ContentLength, got, len(body), body)
	case rsp.Header.Get("Content-Type") != "application/json" || rsp.Header.Get("Micro-Id") != "42":
		return fmt.Errorf("headers %v lack the reply's", rsp.Header)
	case rsp.Header.Get("Set-Cookie") != "" || rsp.Header.Get("X-Split") != "":
		return errors.New("a header value with CR LF was written: the reply can be split")
	case rsp.Close == keepAlive:
		return fmt.Errorf("Connection close is %v with keep-alive %v", rsp.Close, keepAlive)
	case len(rsp.Header.Values("Content-Length")) != 1 || rsp.Header.Get("Content-Length") != strconv.Itoa(len(body)):
		return fmt.Errorf("Content-Length headers %q: a handler's own must be dropped", rsp.Header.Values("Content-Length"))
	}
	return nil
}
