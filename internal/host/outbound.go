package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Names of the outbound-HTTP host functions (abi/ABI.md, "Outbound HTTP"). They are part of ABI v1: a module
// may import them whatever its grant, but only a module loaded with ModuleOptions.AllowedHosts
// reaches anything through them.
const (
	// ImportHTTPRequest performs one HTTP request: (req i32, req_len i32) -> i32, the length
	// of the response message, or -1 when there is no response (the held bytes are then an
	// error message).
	ImportHTTPRequest = "http_request"
	// ImportHTTPResponseRead copies the held response (or error message) of the last
	// http_request: (buf i32, cap i32) -> i32 length, copying only when it fits.
	ImportHTTPResponseRead = "http_response_read"
)

// Defaults of the outbound capability.
const (
	// DefaultMaxResponseBytes bounds one outbound response (status line, headers and body).
	DefaultMaxResponseBytes = 8 << 20
	// DefaultOutboundTimeout bounds an outbound request whose call has no deadline.
	DefaultOutboundTimeout = 2 * time.Minute
)

// ErrHostNotAllowed is wrapped by the error an outbound request gets when its host is not in
// the module's grant. No connection is made.
var ErrHostNotAllowed = errors.New("host not allowed")

// outbound is one module's outbound-HTTP capability: the hosts it may reach, the client that
// reaches them and, per instance, the response of the last request until the guest has read
// it (ABI v1's "copy if it fits" rule, with no host allocation inside the guest).
type outbound struct {
	allowed     []string
	client      *http.Client
	maxResponse int

	mu   sync.Mutex
	held map[api.Module][]byte
}

func newOutbound(opts ModuleOptions) *outbound {
	o := &outbound{maxResponse: opts.MaxResponseBytes, held: map[api.Module][]byte{}}
	if o.maxResponse <= 0 {
		o.maxResponse = DefaultMaxResponseBytes
	}
	for _, h := range opts.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			o.allowed = append(o.allowed, h)
		}
	}
	var tlsConfig *tls.Config
	if opts.OutboundTLS != nil {
		tlsConfig = opts.OutboundTLS.Clone()
	}
	o.client = &http.Client{
		Transport: &http.Transport{
			// No proxy: a request goes to the granted host itself, never elsewhere.
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 0, // blocking queries legitimately wait; the deadline bounds them
		},
		// A redirect is handed to the guest, not followed, so it cannot lead outside the grant.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return o
}

// allows reports whether the module may reach hostport. A grant entry "host:port" allows that
// address exactly; an entry without a port allows the host on any port.
func (o *outbound) allows(hostport string) bool {
	hostport = strings.ToLower(hostport)
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	for _, a := range o.allowed {
		if a == hostport {
			return true
		}
		if _, _, err := net.SplitHostPort(a); err != nil && strings.Trim(a, "[]") == strings.Trim(host, "[]") {
			return true
		}
	}
	return false
}

// httpRequest serves http_request through the calling module's own capability, which the
// call state holds: the host functions are the same for every module, so modules built from
// the same bytes share one compilation (see codeTable).
func httpRequest(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, ImportHTTPRequest)
	o := s.outbound
	raw := read(mod, ImportHTTPRequest, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	s.outboundHeld = true
	rsp, err := o.do(s.ctx, raw)
	s.stopIfDone()
	if err != nil {
		o.hold(mod, []byte(err.Error()))
		stack[0] = api.EncodeI32(-1)
		return
	}
	o.hold(mod, rsp)
	stack[0] = api.EncodeU32(uint32(len(rsp)))
}

// httpResponseRead serves http_response_read, as httpRequest does.
func httpResponseRead(ctx context.Context, mod api.Module, stack []uint64) {
	o := inCall(ctx, ImportHTTPResponseRead).outbound
	o.mu.Lock()
	held := o.held[mod]
	o.mu.Unlock()
	stack[0] = api.EncodeU32(copyOut(mod, ImportHTTPResponseRead, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), held))
}

func (o *outbound) hold(mod api.Module, b []byte) {
	o.mu.Lock()
	o.held[mod] = b
	o.mu.Unlock()
}

// forget drops what an instance holds; the pool calls it when a call ends.
func (o *outbound) forget(mod api.Module) {
	o.mu.Lock()
	delete(o.held, mod)
	o.mu.Unlock()
}

func (o *outbound) close() {
	o.client.CloseIdleConnections()
}

// do parses a request message (HTTP/1.1 wire form with an absolute URI), checks it against
// the grant, performs it under ctx and returns the response message, its body length given by
// a Content-Length header.
func (o *outbound) do(ctx context.Context, raw []byte) ([]byte, error) {
	in, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("http_request: malformed request message: %w", err)
	}
	u := in.URL
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("http_request: want an absolute http or https URL in the request line, got %q", in.RequestURI)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("http_request: URL %q has no host", in.RequestURI)
	}
	if !o.allows(u.Host) {
		return nil, fmt.Errorf("http_request: %w: %s is not in this module's grant", ErrHostNotAllowed, u.Host)
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, fmt.Errorf("http_request: reading request body: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultOutboundTimeout)
		defer cancel()
	}
	out, err := http.NewRequestWithContext(ctx, in.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http_request: %w", err)
	}
	for k, vs := range in.Header {
		if hopByHop(k) {
			continue
		}
		out.Header[k] = vs
	}
	rsp, err := o.client.Do(out)
	if err != nil {
		// A *url.Error repeats the method and URL this message already names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("http_request: %s %s: %w", in.Method, u.Redacted(), err)
	}
	defer rsp.Body.Close()
	rspBody, err := io.ReadAll(io.LimitReader(rsp.Body, int64(o.maxResponse)+1))
	if err != nil {
		return nil, fmt.Errorf("http_request: %s %s: reading response: %w", in.Method, u.Redacted(), err)
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "HTTP/1.1 %03d %s\r\n", rsp.StatusCode, http.StatusText(rsp.StatusCode))
	h := rsp.Header.Clone()
	for k := range h {
		if hopByHop(k) || strings.EqualFold(k, "Content-Length") {
			delete(h, k)
		}
	}
	_ = h.Write(&msg)
	msg.WriteString("Content-Length: " + strconv.Itoa(len(rspBody)) + "\r\n\r\n")
	if msg.Len()+len(rspBody) > o.maxResponse {
		return nil, fmt.Errorf("http_request: %s %s: response larger than %d bytes", in.Method, u.Redacted(), o.maxResponse)
	}
	msg.Write(rspBody)
	return msg.Bytes(), nil
}

// hopByHop reports headers that describe one connection rather than the message.
func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// outboundState serves outbound HTTP (outbound.go): outbound is the module's capability, and
// outboundHeld is set when the call made a request, whose response the module's outbound
// keeps for this instance until the call ends.
type outboundState struct {
	outbound     *outbound
	outboundHeld bool
}

func (o *outboundState) reset() { o.outboundHeld = false }
