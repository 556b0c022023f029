package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/servicetest"
	"github.com/microhost/microhost/internal/transport"
)

// pluginDir holds the modules built from source for these tests: the greeter, the api of the
// chain example, and internal/host/testdata/callguest (relays calls, echoes metadata, counts calls).
var pluginDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// testCompilations holds the compiled modules of the services the tests start, shared by
// them all, and keeps those no module uses: the tests start the same modules again and
// again, each load from the compilation cache a few tenths of a CPU-second under the race
// detector.
var testCompilations = host.NewCompilations(4)

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = dir
	for _, pkg := range []string{"./handlers/greeter", "./handlers/api", "./internal/host/testdata/callguest"} {
		if _, err := guestbuild.Go(context.Background(), pkg, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// registry is a private embedded registry for one test.
func registry(t testing.TB) (*localregistry.Registry, string) {
	t.Helper()
	dir := t.TempDir()
	reg, err := localregistry.New(dir)
	require.NoError(t, err)
	return reg, dir
}

// serve runs service name at version with one module (one instance, so its call counts are
// the node's) on 127.0.0.1 until the test ends, and waits until it is registered.
func serve(t testing.TB, reg *localregistry.Registry, regDir, name, version, module string, extra ...string) *service.Service {
	t.Helper()
	return servicetest.Start(t, servicetest.Service{
		Name: name, Version: version, Module: module, PluginDir: pluginDir,
		Registry: reg, RegistryDir: regDir, Extra: append([]string{"pool_size = 1"}, extra...),
		Compilations: testCompilations,
	})
}

func newClient(t testing.TB, lookup client.Lookup, opts client.Options) *client.Client {
	t.Helper()
	if opts.Codecs == nil {
		opts.Codecs = stockCodecs()
	}
	c, err := client.NewClient(lookup, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// counts asks a callguest node how many calls of each endpoint it served.
func counts(t testing.TB, c *client.Client, svc *service.Service) map[string]int {
	t.Helper()
	reply, err := c.CallAddress(context.Background(), svc.Addr(), &client.Request{Service: "echo", Endpoint: "Echo.Count", Body: []byte(`{}`)})
	require.NoError(t, err)
	var got map[string]int
	require.NoError(t, json.Unmarshal(reply, &got))
	return got
}

func echo(body string) *client.Request {
	return &client.Request{Service: "echo", Endpoint: "Echo.Call", Body: []byte(body)}
}

func TestSeededSpreadAndRoundRobin(t *testing.T) {
	reg, regDir := registry(t)
	a := serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	b := serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	ctx := context.Background()

	// Random with a fixed seed: 200 calls spread over both nodes, the split within ±40 of
	// even (a binomial(200, ½) is outside that with probability below 10⁻⁸), and the same
	// seed gives the same sequence.
	sequence := func(seed uint64) []string {
		c := newClient(t, reg, client.Options{Seed: seed})
		var got []string
		for range 200 {
			rsp, err := c.Do(ctx, echo(`{}`))
			require.NoError(t, err)
			require.Equal(t, 1, rsp.Attempts)
			got = append(got, rsp.Node.Address)
		}
		return got
	}
	first := sequence(7)
	byAddr := map[string]int{}
	for _, addr := range first {
		byAddr[addr]++
	}
	assert.Len(t, byAddr, 2)
	assert.InDelta(t, 100, byAddr[a.Addr()], 40)
	assert.Equal(t, 200, byAddr[a.Addr()]+byAddr[b.Addr()])
	assert.Equal(t, first, sequence(7), "same seed, same choices")
	// The servers counted the same calls the client says it made (twice, by the two runs).
	probe := newClient(t, nil, client.Options{})
	assert.Equal(t, 2*byAddr[a.Addr()], counts(t, probe, a)["Echo.Call"])
	assert.Equal(t, 2*byAddr[b.Addr()], counts(t, probe, b)["Echo.Call"])

	// Round robin alternates exactly.
	rr := newClient(t, reg, client.Options{Strategy: selector.StrategyRoundRobin})
	var got []string
	for range 8 {
		rsp, err := rr.Do(ctx, echo(`{}`))
		require.NoError(t, err)
		got = append(got, rsp.Node.Address)
	}
	for i := 2; i < len(got); i++ {
		require.Equal(t, got[i-2], got[i], "round robin: %v", got)
	}
	require.NotEqual(t, got[0], got[1])

	_, err := client.NewClient(reg, client.Options{Strategy: "fastest"})
	require.ErrorContains(t, err, `unknown strategy "fastest"`)
}

func TestVersionAndLabelFilters(t *testing.T) {
	reg, regDir := registry(t)
	v1a := serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	v1b := serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	v2 := serve(t, reg, regDir, "echo", "2.0.0", "callguest")
	ctx := context.Background()
	c := newClient(t, reg, client.Options{Seed: 1})
	for range 20 {
		rsp, err := c.Do(ctx, echo(`{}`), client.WithVersion("2.0.0"))
		require.NoError(t, err)
		require.Equal(t, v2.Addr(), rsp.Node.Address)
		require.Equal(t, "2.0.0", rsp.Node.Version)
	}
	probe := newClient(t, nil, client.Options{})
	assert.Equal(t, 20, counts(t, probe, v2)["Echo.Call"])
	assert.Zero(t, counts(t, probe, v1a)["Echo.Call"])
	assert.Zero(t, counts(t, probe, v1b)["Echo.Call"])

	_, err := c.Do(ctx, echo(`{}`), client.WithVersion("3.0.0"))
	require.ErrorIs(t, err, selector.ErrNoneAvailable)

	// Every node carries transport=http in its metadata; none has zone=mars.
	_, err = c.Do(ctx, echo(`{}`), client.WithLabels(map[string]string{"transport": "http"}))
	require.NoError(t, err)
	_, err = c.Do(ctx, echo(`{}`), client.WithLabels(map[string]string{"zone": "mars"}))
	require.ErrorIs(t, err, selector.ErrNoneAvailable)
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestRetriesOnTransportFailuresOnly(t *testing.T) {
	reg, regDir := registry(t)
	live := serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	ctx := context.Background()
	dead := &abi.Service{Name: "echo", Version: "1.0.0", Nodes: []abi.Node{{ID: "echo-dead", Address: deadAddress(t)}}}
	require.NoError(t, reg.Register(ctx, dead, time.Minute))

	var mu sync.Mutex
	var waits []int
	c := newClient(t, reg, client.Options{Strategy: selector.StrategyRoundRobin, Backoff: func(attempt int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, attempt)
		return time.Millisecond
	}})
	// Round robin reaches the dead node within two calls; that call is retried on the live
	// node, and from then on the dead node is marked and skipped.
	retried := 0
	for i := range 20 {
		rsp, err := c.Do(ctx, echo(`{}`))
		require.NoError(t, err, "call %d", i)
		require.Equal(t, live.Addr(), rsp.Node.Address)
		if rsp.Attempts == 2 {
			retried++
			require.LessOrEqual(t, i, 1, "the dead node was chosen after it was marked")
		}
	}
	assert.Equal(t, 1, retried)
	assert.Equal(t, []int{1}, waits)

	// A handler's error is not retried: the server counts one call, whatever the retries.
	_, err := c.Do(ctx, &client.Request{Service: "echo", Endpoint: "Echo.Fail", Body: []byte(`{}`)}, client.WithRetries(5))
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(500), ae.Code)
	assert.Equal(t, "echo", ae.ID)
	assert.Contains(t, ae.Detail, "failing on purpose (1)")
	probe := newClient(t, nil, client.Options{})
	assert.Equal(t, 1, counts(t, probe, live)["Echo.Fail"])

	// With only the dead node and no retries, the transport failure comes back as such; with
	// retries, each try is made (on the same node, the only one) before giving up.
	onlyDead := newClient(t, staticLookup{dead}, client.Options{Backoff: func(int) time.Duration { return 0 }})
	_, err = onlyDead.Do(ctx, echo(`{}`), client.WithRetries(0))
	require.ErrorIs(t, err, transport.ErrTransport)
	_, err = onlyDead.Do(ctx, echo(`{}`), client.WithRetries(2))
	require.ErrorIs(t, err, transport.ErrTransport)
	assert.Contains(t, err.Error(), "gave up after 3 tries")
}

// staticLookup serves fixed registrations.
type staticLookup []*abi.Service

func (s staticLookup) GetService(context.Context, string) ([]*abi.Service, error) { return s, nil }

// TestTimeoutIsNotRetried counts the handler's calls in the nodes' logs (a guest stopped at
// its deadline loses its own memory): one call, on one node.
func TestTimeoutIsNotRetried(t *testing.T) {
	reg, regDir := registry(t)
	var logs logbuffer.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for range 2 {
		servicetest.Start(t, servicetest.Service{
			Name: "echo", Version: "1.0.0", Module: "callguest", PluginDir: pluginDir,
			Registry: reg, RegistryDir: regDir, Extra: []string{"pool_size = 1", "interrupt = false"}, Logger: logger,
			Compilations: testCompilations,
		})
	}
	calls := func() int { return strings.Count(logs.String(), "Echo.Sleep called") }
	c := newClient(t, reg, client.Options{Retries: 3})
	start := time.Now()
	_, err := c.Do(context.Background(), &client.Request{Service: "echo", Endpoint: "Echo.Sleep", Body: []byte(`"2s"`)}, client.WithTimeout(200*time.Millisecond))
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(408), ae.Code)
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "the caller stops waiting at its deadline, not the handler's 2 s")
	require.Eventually(t, func() bool { return calls() == 1 }, 5*time.Second, 20*time.Millisecond)
	// A retry would have been sent before the caller gave up (at 200 ms): past a second, the
	// count is final.
	time.Sleep(time.Until(start.Add(time.Second)))
	assert.Equal(t, 1, calls())
}

func TestMetadataRoundTrip(t *testing.T) {
	reg, regDir := registry(t)
	serve(t, reg, regDir, "echo", "1.0.0", "callguest")
	c := newClient(t, reg, client.Options{})
	ctx := client.NewContext(context.Background(), map[string]string{"X-Trace": "abc", "X-Override": "from-context", "Micro-Service": "spoofed"})
	req := echo(`{"keys":["X-Trace","X-Override","Micro-Service"],"reply":{"X-Reply":"yes"}}`)
	req.Metadata = map[string]string{"X-Override": "from-request"}
	rsp, err := c.Do(ctx, req)
	require.NoError(t, err)
	var got struct{ Seen map[string]string }
	require.NoError(t, json.Unmarshal(rsp.Body, &got))
	assert.Equal(t, map[string]string{"X-Trace": "abc", "X-Override": "from-request", "Micro-Service": "echo"}, got.Seen)
	assert.Equal(t, "yes", rsp.Metadata["X-Reply"])

	md, ok := client.FromContext(ctx)
	require.True(t, ok)
	md["X-Trace"] = "changed"
	again, _ := client.FromContext(ctx)
	assert.Equal(t, "abc", again["X-Trace"], "FromContext returns a copy")
}

func TestServiceToService(t *testing.T) {
	reg, regDir := registry(t)
	serve(t, reg, regDir, "greeter", "1.0.0", "greeter")
	serve(t, reg, regDir, "api", "1.0.0", "api", `calls = ["greeter"]`)
	serve(t, reg, regDir, "relay", "1.0.0", "callguest", `calls = ["echo", "nobody"]`)
	serve(t, reg, regDir, "authrelay", "1.0.0", "callguest", `calls = ["echo.Call"]`, `forward_metadata = ["Authorization"]`)
	// The callee sleeps through the caller's deadline uninterrupted: the point is that the
	// caller stops waiting.
	serve(t, reg, regDir, "echo", "1.0.0", "callguest", "interrupt = false")
	c := newClient(t, reg, client.Options{})
	ctx := context.Background()

	var rsp struct {
		Message string `json:"message"`
		From    string `json:"from"`
	}
	require.NoError(t, c.CallJSON(ctx, "api", "Api.Greet", map[string]string{"name": "John"}, &rsp))
	assert.Equal(t, "Hello John", rsp.Message)
	assert.Equal(t, "greeter", rsp.From)

	// The greeter's 400 comes back through the api with its code.
	err := c.CallJSON(ctx, "api", "Api.Greet", map[string]string{"name": ""}, nil)
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(400), ae.Code)
	assert.Equal(t, "name is required", ae.Detail)

	// The caller's metadata reaches the service called in turn.
	mdCtx := client.NewContext(ctx, map[string]string{"X-Trace": "t-42"})
	reply, err := c.Call(mdCtx, &client.Request{Service: "relay", Endpoint: "Call.Relay",
		Body: []byte(`{"service":"echo","endpoint":"Echo.Call","body":{"keys":["X-Trace","Micro-Service"]}}`)})
	require.NoError(t, err)
	var seen struct{ Seen map[string]string }
	require.NoError(t, json.Unmarshal(reply, &seen))
	assert.Equal(t, map[string]string{"X-Trace": "t-42", "Micro-Service": "echo"}, seen.Seen)

	// The caller's credentials do not reach it, unless the relay's grant forwards them.
	credCtx := client.NewContext(ctx, map[string]string{"X-Trace": "t-43", "Authorization": "Bearer s", "Cookie": "c=1"})
	keys := `{"service":"echo","endpoint":"Echo.Call","body":{"keys":["X-Trace","Authorization","Cookie"]}}`
	reply, err = c.Call(credCtx, &client.Request{Service: "relay", Endpoint: "Call.Relay", Body: []byte(keys)})
	require.NoError(t, err)
	seen.Seen = nil
	require.NoError(t, json.Unmarshal(reply, &seen))
	assert.Equal(t, map[string]string{"X-Trace": "t-43"}, seen.Seen)
	reply, err = c.Call(credCtx, &client.Request{Service: "authrelay", Endpoint: "Call.Relay", Body: []byte(keys)})
	require.NoError(t, err)
	seen.Seen = nil
	require.NoError(t, json.Unmarshal(reply, &seen))
	assert.Equal(t, map[string]string{"X-Trace": "t-43", "Authorization": "Bearer s"}, seen.Seen)

	// A service the relay's grant does not name is refused before any lookup: a 403 that
	// names the grant.
	_, err = c.Call(ctx, &client.Request{Service: "relay", Endpoint: "Call.Relay",
		Body: []byte(`{"service":"greeter","endpoint":"Greeter.Hello","body":{"name":"x"}}`)})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(403), ae.Code)
	assert.Equal(t, `module callguest may not call greeter.Hello: add "greeter.Hello" (this method) or "greeter" (every endpoint) to its calls`, ae.Detail)

	// The calling request's deadline bounds the inner call.
	start := time.Now()
	_, err = c.Call(ctx, &client.Request{Service: "relay", Endpoint: "Call.Relay",
		Body: []byte(`{"service":"echo","endpoint":"Echo.Sleep","body":"1s"}`)}, client.WithTimeout(300*time.Millisecond))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(408), ae.Code)
	assert.Less(t, time.Since(start), 900*time.Millisecond)

	// A service nobody serves is a 503 to the handler, which passes it on.
	_, err = c.Call(ctx, &client.Request{Service: "relay", Endpoint: "Call.Relay",
		Body: []byte(`{"service":"nobody","endpoint":"X.Y","body":{}}`)})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(503), ae.Code)
	assert.Contains(t, ae.Detail, "service not found")
}

func TestCallErrors(t *testing.T) {
	reg, _ := registry(t)
	c := newClient(t, reg, client.Options{})
	ctx := context.Background()
	_, err := c.Call(ctx, echo(`{}`))
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
	_, err = newClient(t, nil, client.Options{}).Call(ctx, echo(`{}`))
	require.ErrorContains(t, err, "no registry")
	_, err = c.CallAddress(ctx, deadAddress(t), &client.Request{Service: "echo", Endpoint: "Echo.Call", ContentType: "text/plain"})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(415), ae.Code)
	err = c.CallJSON(ctx, "echo", "Echo.Call", func() {}, nil)
	require.ErrorContains(t, err, "encode the request")
}

func TestExponentialBackoff(t *testing.T) {
	assert.Equal(t, time.Duration(0), client.ExponentialBackoff(0))
	assert.Equal(t, 10*time.Millisecond, client.ExponentialBackoff(1))
	assert.Equal(t, 100*time.Millisecond, client.ExponentialBackoff(2))
	assert.Equal(t, time.Second, client.ExponentialBackoff(3))
	assert.Equal(t, time.Second, client.ExponentialBackoff(40))
}

// TestTimeoutWithRetriesIsAlways408: against nodes that never answer or refuse, a call with
// retries that runs out of time is a 408 every time, never a bare transport failure, and
// returns at its deadline.
func TestTimeoutWithRetriesIsAlways408(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	// A node that refuses connections beside it makes some first tries fail fast, so that
	// the last try is the one the deadline cuts.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	require.NoError(t, dead.Close())
	silent := &abi.Service{Name: "silent", Version: "1.0.0", Nodes: []abi.Node{
		{ID: "silent-1", Address: ln.Addr().String()}, {ID: "dead-1", Address: deadAddr}}}
	c := newClient(t, staticLookup{silent}, client.Options{Backoff: func(int) time.Duration { return 0 }})
	for i := range 12 {
		start := time.Now()
		_, err := c.Do(context.Background(), &client.Request{Service: "silent", Endpoint: "Silent.Call", Body: []byte(`{}`)},
			client.WithRetries(1), client.WithTimeout(100*time.Millisecond))
		var ae *abi.Error
		require.ErrorAs(t, err, &ae, "call %d: %v", i, err)
		assert.EqualValues(t, 408, ae.Code, "call %d: %v", i, err)
		assert.Less(t, time.Since(start), time.Second)
	}
}
