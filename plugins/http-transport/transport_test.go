package httptransport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/microhost/microhost/host/component"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const greet = "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nMicro-Service: greeter\r\nMicro-Endpoint: Greeter.Hello\r\nTimeout: 5000000000\r\nContent-Length: 15\r\n\r\n{\"name\":\"John\"}"

func TestParseRequest(t *testing.T) {
	var req Request
	n, err := ParseRequest([]byte(greet+greet), Limits{}, &req)
	require.NoError(t, err)
	assert.Equal(t, len(greet), n, "a pipelined second request is left for the next call")
	assert.Equal(t, "POST", string(req.Method))
	assert.Equal(t, "/", string(req.Target))
	assert.True(t, req.KeepAlive)
	assert.Equal(t, `{"name":"John"}`, string(req.Body))
	v, ok := req.Get("micro-endpoint")
	assert.True(t, ok)
	assert.Equal(t, "Greeter.Hello", string(v))
	_, ok = req.Get("Micro-Id")
	assert.False(t, ok)

	// Every strict prefix asks for more.
	for i := range len(greet) {
		n, err := ParseRequest([]byte(greet[:i]), Limits{}, &req)
		require.NoError(t, err, "prefix %d", i)
		require.Zero(t, n, "prefix %d", i)
	}
}

func TestParseChunked(t *testing.T) {
	const chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nMicro-Endpoint: A.B\r\n\r\n" +
		"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
	const empty = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	for _, c := range []struct{ in, body string }{{chunked, "hello 0123456789"}, {empty, ""}} {
		buf := []byte(c.in + c.in)
		var req Request
		n, err := ParseRequest(buf, Limits{}, &req)
		require.NoError(t, err)
		assert.Equal(t, len(c.in), n)
		assert.Equal(t, c.body, string(req.Body))
		assert.Equal(t, len(c.body), req.ContentLength)
		assert.Equal(t, c.in, string(buf[n:]), "the next request is untouched")
		for i := range len(c.in) {
			b := []byte(c.in[:i])
			n, err := ParseRequest(b, Limits{}, &req)
			require.NoError(t, err, "prefix %d", i)
			require.Zero(t, n, "prefix %d", i)
			require.Equal(t, c.in[:i], string(b), "an incomplete body is not rewritten")
		}
	}
}

func TestParseRequestErrors(t *testing.T) {
	cases := map[string]struct {
		in     string
		lim    Limits
		status int
	}{
		"garbage":            {"hello\r\n\r\n", Limits{}, 400},
		"GET":                {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Limits{}, 405},
		"no length":          {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", Limits{}, 411},
		"chunked and length": {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", Limits{}, 400},
		"gzip coding":        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Limits{}, 501},
		"bad chunk size":     {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Limits{}, 400},
		"chunk without CRLF": {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", Limits{}, 400},
		"chunks too large":   {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n", Limits{MaxBodyBytes: 10}, 413},
		"bad length":         {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Limits{}, 400},
		"two lengths":        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", Limits{}, 400},
		"HTTP/2":             {"POST / HTTP/2.0\r\nContent-Length: 0\r\n\r\n", Limits{}, 505},
		"bad header":         {"POST / HTTP/1.1\r\nno colon here\r\nContent-Length: 0\r\n\r\n", Limits{}, 400},
		"space in name":      {"POST / HTTP/1.1\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", Limits{}, 400},
		"control in value":   {"POST / HTTP/1.1\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n", Limits{}, 400},
		"body too large":     {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", Limits{MaxBodyBytes: 10}, 413},
		"header too large":   {"POST / HTTP/1.1\r\nX: " + strings.Repeat("a", 100) + "\r\nContent-Length: 0\r\n\r\n", Limits{MaxHeaderBytes: 64}, 431},
		"endless header":     {"POST / HTTP/1.1\r\nX: " + strings.Repeat("a", 100), Limits{MaxHeaderBytes: 64}, 431},
		"bad request line":   {"POST /\r\n\r\n", Limits{}, 400},
		"space in target":    {"POST / x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", Limits{}, 400},
		"lower-case version": {"POST / http/1.1\r\nContent-Length: 0\r\n\r\n", Limits{}, 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var req Request
			_, err := ParseRequest([]byte(c.in), c.lim, &req)
			var fe *Error
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.Equal(t, c.status, fe.Status, fe.Reason)
		})
	}
}

// TestAgreesWithNetHTTP parses requests written by net/http and checks the results agree.
func TestAgreesWithNetHTTP(t *testing.T) {
	for _, body := range []string{"", "{}", `{"name":"Zoë 世界"}`, strings.Repeat("x", 100000)} {
		hr, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/", strings.NewReader(body))
		require.NoError(t, err)
		hr.Header.Set("Micro-Endpoint", "Greeter.Hello")
		hr.Header.Set("X-Meta", " spaced value ")
		var buf bytes.Buffer
		require.NoError(t, hr.Write(&buf))
		var req Request
		n, err := ParseRequest(buf.Bytes(), Limits{}, &req)
		require.NoError(t, err)
		assert.Equal(t, buf.Len(), n)
		assert.Equal(t, body, string(req.Body))
		v, _ := req.Get("X-Meta")
		assert.Equal(t, "spaced value", string(v))
	}
}

func TestResponseHead(t *testing.T) {
	head := AppendResponseHead(nil, 200, []Header{
		{Name: []byte("Content-Type"), Value: []byte("application/json")},
		{Name: []byte("X-Evil"), Value: []byte("a\r\nSet-Cookie: x")},
		{Name: []byte("Content-Length"), Value: []byte("999")},
	}, 2, true)
	wire := append(head, "{}"...)
	assert.NotContains(t, string(wire), "Set-Cookie", "a value with CR LF is dropped")

	rsp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(rsp.Body)
	assert.Equal(t, 200, rsp.StatusCode)
	assert.Equal(t, "{}", string(b))
	assert.Equal(t, "application/json", rsp.Header.Get("Content-Type"))

	var r Response
	n, err := ParseResponse(wire, Limits{}, &r)
	require.NoError(t, err)
	assert.Equal(t, len(wire), n)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "{}", string(r.Body))
	assert.True(t, r.KeepAlive)

	closing := AppendResponseHead(nil, 404, nil, 0, false)
	n, err = ParseResponse(closing, Limits{}, &r)
	require.NoError(t, err)
	assert.Equal(t, len(closing), n)
	assert.Equal(t, 404, r.Status)
	assert.False(t, r.KeepAlive)
}

func TestRequestRoundTrip(t *testing.T) {
	head := AppendRequestHead(nil, "127.0.0.1:8080", []Header{{Name: []byte("Micro-Endpoint"), Value: []byte("Greeter.Hello")}}, 2)
	wire := append(head, "{}"...)
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	require.NoError(t, err)
	assert.Equal(t, "Greeter.Hello", hr.Header.Get("Micro-Endpoint"))
	var req Request
	n, err := ParseRequest(wire, Limits{}, &req)
	require.NoError(t, err)
	assert.Equal(t, len(wire), n)
	assert.Equal(t, "{}", string(req.Body))
}

func TestWireRoundTrip(t *testing.T) {
	big := greet[:len(greet)-15] + strings.Replace(greet[len(greet)-15:], "John", "John", 1)
	buf := []byte(big)
	in := component.AppendFrameInput(nil, Limits{MaxHeaderBytes: 1024}, buf)
	lim, available, prefix, err := component.DecodeFrameInput(in)
	require.NoError(t, err)
	assert.Equal(t, len(buf), available)
	var req Request
	n, err := ParsePrefix(prefix, available, lim, &req)
	require.NoError(t, err)
	var got Request
	m, err := component.DecodeFrame(component.AppendFrame(nil, n, &req), &got)
	require.NoError(t, err)
	assert.Equal(t, len(buf), m)
	assert.Equal(t, 15, got.ContentLength)
	assert.Equal(t, `{"name":"John"}`, string(buf[m-got.ContentLength:m]))
	assert.Equal(t, req.Headers, got.Headers)

	status, hs, bodyLen, keep, err := component.DecodeHeadInput(component.AppendHeadInput(nil, 201, got.Headers, 7, true), nil)
	require.NoError(t, err)
	assert.Equal(t, 201, status)
	assert.Equal(t, got.Headers, hs)
	assert.Equal(t, 7, bodyLen)
	assert.True(t, keep)
}

// TestPrefixOfLargeBody frames a request whose body is not handed over.
func TestPrefixOfLargeBody(t *testing.T) {
	body := strings.Repeat("z", 1<<20)
	hr, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/", strings.NewReader(body))
	var buf bytes.Buffer
	require.NoError(t, hr.Write(&buf))
	lim := Limits{MaxHeaderBytes: 4096, MaxBodyBytes: 2 << 20}
	var req Request
	n, err := ParsePrefix(buf.Bytes()[:4100], buf.Len(), lim, &req)
	require.NoError(t, err)
	assert.Equal(t, buf.Len(), n)
	assert.Nil(t, req.Body)
	assert.Equal(t, body, string(buf.Bytes()[n-req.ContentLength:n]))
	n, err = ParsePrefix(buf.Bytes()[:4100], buf.Len()-1, lim, &req)
	require.NoError(t, err)
	assert.Zero(t, n, "one byte short: read more")
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(greet))
	f.Add([]byte("POST / HTTP/1.0\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req Request
		orig := append([]byte(nil), b...)
		n, err := ParseRequest(b, Limits{MaxHeaderBytes: 1024, MaxBodyBytes: 1024}, &req)
		if err != nil || n == 0 {
			return
		}
		b = orig
		if n > len(b) || len(req.Body) != req.ContentLength {
			t.Fatalf("consumed %d of %d, body %d of %d", n, len(b), len(req.Body), req.ContentLength)
		}
		// What we accept, net/http accepts too, with the same body.
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("accepted what net/http refuses: %v: %q", err, b[:n])
		}
		got, _ := io.ReadAll(hr.Body)
		if !bytes.Equal(got, req.Body) {
			t.Fatalf("body %q, net/http read %q", req.Body, got)
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(greet)
	var req Request
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(buf, Limits{}, &req); err != nil {
			b.Fatal(err)
		}
	}
}
