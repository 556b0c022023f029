package hostile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/brokertest"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
	"github.com/microhost/microhost/internal/servicetest"
)

var pluginDir string

func TestMain(m *testing.M) {
	brokertest.RunIfSubscriber()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-hostile-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = dir
	for _, pkg := range []string{"./handlers/greeter", "./internal/host/testdata/testguest", "./internal/host/testdata/hostileguest"} {
		if _, err := guestbuild.Go(context.Background(), pkg, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// call posts one JSON request to addr and returns the status, the Go Micro error (nil on
// success), the reply headers and body.
func call(addr, endpoint, body string, timeout time.Duration) (int, *abi.Error, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Micro-Endpoint", endpoint)
	if timeout > 0 {
		req.Header.Set("Timeout", strconv.FormatInt(timeout.Nanoseconds(), 10))
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, "", err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, 1<<20))
	var ae *abi.Error
	if h := rsp.Header.Get("Micro-Error"); h != "" {
		ae = abi.ParseError(h)
	}
	return rsp.StatusCode, ae, rsp.Header, string(b), err
}

// background calls Greeter.Hello in a loop on two goroutines until stopped and counts the
// calls and the failures.
type background struct {
	calls, failures atomic.Int64
	stop            chan struct{}
	wg              sync.WaitGroup
	mu              sync.Mutex
	first           string
}

func startBackground(t *testing.T, addr string) *background {
	b := &background{stop: make(chan struct{})}
	for range 2 {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-b.stop:
					return
				default:
				}
				status, _, _, body, err := call(addr, "Greeter.Hello", `{"name":"load"}`, 5*time.Second)
				b.calls.Add(1)
				if err != nil || status != http.StatusOK || body != `{"greeting":"Hello load"}` {
					b.failures.Add(1)
					b.mu.Lock()
					if b.first == "" {
						b.first = fmt.Sprintf("status %d, body %q, err %v", status, body, err)
					}
					b.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(b.end)
	return b
}

func (b *background) end() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
}

// TestHostileUnderLoad runs one service with the greeter beside misbehaving modules and
// throws each attack at it while a background load calls the greeter: every attack gets its
// bounded answer, and no background call fails.
func TestHostileUnderLoad(t *testing.T) {
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	var logs logbuffer.Buffer
	svc := servicetest.Start(t, servicetest.Service{
		Name: "hostile", Version: "1.0.0", Module: "greeter", PluginDir: pluginDir,
		Registry: reg, RegistryDir: regDir, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Extra: []string{
			"pool_size = 2",
			"[[handler]]", `module = "testguest"`, "pool_size = 1",
			"[[handler]]", `module = "hostileguest"`, "pool_size = 2",
			`calls = ["hostile.Creds"]`, `publishes = ["events"]`,
			"[transport]", `read_timeout = "500ms"`,
		},
	})
	addr := svc.Addr()
	bg := startBackground(t, addr)
	require.Eventually(t, func() bool { return bg.calls.Load() > 10 }, 10*time.Second, 10*time.Millisecond)

	t.Run("trap", func(t *testing.T) {
		status, ae, _, _, err := call(addr, "Test.Trap", `{}`, 0)
		require.NoError(t, err)
		assert.Equal(t, 500, status)
		require.NotNil(t, ae)
		assert.NotContains(t, ae.Detail, "wasm")
		assert.True(t, strings.Contains(logs.String(), "wasm stack trace"), "the log keeps the trace")
	})
	t.Run("runaway loop", func(t *testing.T) {
		start := time.Now()
		_, ae, _, _, err := call(addr, "Test.Loop", `"forever"`, 300*time.Millisecond)
		require.NoError(t, err)
		require.NotNil(t, ae)
		assert.EqualValues(t, 408, ae.Code)
		assert.Less(t, time.Since(start), time.Second)
	})
	t.Run("sleep past the deadline", func(t *testing.T) {
		start := time.Now()
		_, ae, _, _, err := call(addr, "Test.Sleep", `"1h"`, 300*time.Millisecond)
		require.NoError(t, err)
		require.NotNil(t, ae)
		assert.EqualValues(t, 408, ae.Code)
		// Answered at the deadline, not after the hour; loose, for race-detector runs on a
		// busy machine.
		assert.Less(t, time.Since(start), 3*time.Second)
	})
	t.Run("no free instance", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, _, _, _ = call(addr, "Test.Sleep", `"1h"`, 2*time.Second)
		}()
		require.Eventually(t, func() bool {
			_, ae, _, _, err := call(addr, "Test.Noop", `{}`, 100*time.Millisecond)
			return err == nil && ae != nil && ae.Code == 503 && ae.Detail == "no free instance of testguest"
		}, 5*time.Second, 20*time.Millisecond)
		<-done
	})
	t.Run("log flood", func(t *testing.T) {
		before := len(logs.String())
		_, _, _, _, err := call(addr, "Test.LogFlood", `"5000"`, 0) // 10 MB asked
		require.NoError(t, err)
		grew := len(logs.String()) - before
		assert.Less(t, grew, 256<<10, "the log grew by %d bytes", grew)
	})
	t.Run("reply header flood", func(t *testing.T) {
		_, ae, _, _, err := call(addr, "Hostile.Headers", `"300 1048576"`, 0)
		require.NoError(t, err)
		require.NotNil(t, ae)
		assert.EqualValues(t, 500, ae.Code)
		assert.Contains(t, ae.Detail, "over the limit of 32768 bytes")
	})
	t.Run("reserved reply headers", func(t *testing.T) {
		status, ae, hdr, body, err := call(addr, "Hostile.Reserved", `{}`, 0)
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Nil(t, ae, "a forged Micro-Error reached the caller")
		assert.Equal(t, "application/json", hdr.Get("Content-Type"))
		assert.Empty(t, hdr.Get("Injected"))
		assert.Equal(t, "fine", hdr.Get("X-Ok"))
		assert.Equal(t, `"body kept"`, body)
	})
	t.Run("slowloris", func(t *testing.T) {
		var wg sync.WaitGroup
		var cut atomic.Int64
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				go func() {
					for _, b := range []byte("POST / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
						if _, err := c.Write([]byte{b}); err != nil {
							return
						}
						time.Sleep(50 * time.Millisecond)
					}
				}()
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.HasPrefix(line, "HTTP/1.1 408") {
					cut.Add(1)
				}
			}()
		}
		wg.Wait()
		assert.EqualValues(t, 20, cut.Load(), "every trickling client is cut with a 408")
	})

	t.Run("call not granted", func(t *testing.T) {
		for _, target := range []string{`{"service":"billing","endpoint":"Billing.Charge"}`, `{"service":"hostile","endpoint":"Hostile.Escape"}`} {
			status, ae, _, _, err := call(addr, "Hostile.Call", target, 0)
			require.NoError(t, err)
			assert.Equal(t, 403, status, target)
			require.NotNil(t, ae, target)
			assert.Contains(t, ae.Detail, "module hostileguest may not call", target)
		}
		_, ae, _, _, err := call(addr, "Hostile.Call", `{"service":"billing","endpoint":"Billing.Charge"}`, 0)
		require.NoError(t, err)
		assert.Equal(t, `module hostileguest may not call billing.Charge: add "billing.Charge" (this method) or "billing" (every endpoint) to its calls`, ae.Detail)
	})
	t.Run("credentials not forwarded", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(`{"service":"hostile","endpoint":"Hostile.Creds"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Micro-Endpoint", "Hostile.Call")
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Cookie", "session=1")
		req.Header.Set("X-Trace", "t-9")
		rsp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer rsp.Body.Close()
		body, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, rsp.StatusCode, "%s", body)
		assert.JSONEq(t, `{"authorization":"","cookie":"","trace":"t-9"}`, string(body), "what the callee received")
	})
	t.Run("publish not granted", func(t *testing.T) {
		status, ae, _, _, err := call(addr, "Hostile.Publish", `{"topic":"orders.created","n":1}`, 0)
		require.NoError(t, err)
		assert.Equal(t, 403, status)
		require.NotNil(t, ae)
		assert.Contains(t, ae.Detail, "grant does not cover the topic")
		assert.Contains(t, logs.String(), `module hostileguest may not publish to orders.created: add \"orders.created\" to its publishes`)
	})
	t.Run("subscriber killed and restarted", func(t *testing.T) {
		// A subscriber process takes "events" (a broadcast subscriber and a queue group
		// member); the hostile module publishes to it through the publish host function
		// while the process is SIGKILLed and restarted on the same address: every message
		// reaches both subscriptions, and no publication fails.
		const total = 200
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		subAddr := ln.Addr().String()
		require.NoError(t, ln.Close())
		outFile := t.TempDir() + "/received"
		first := brokertest.StartSubscriber(t, subAddr, regDir, outFile, "events")
		var next, failed atomic.Int64
		var firstFailure atomic.Value
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					n := next.Add(1)
					if n > total {
						return
					}
					status, ae, _, body, err := call(addr, "Hostile.Publish", fmt.Sprintf(`{"topic":"events","n":%d}`, n), 0)
					if err != nil || status != 200 {
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprintf("n=%d status %d err %v %v %s", n, status, err, ae, body))
					}
				}
			})
		}
		require.Eventually(t, func() bool {
			return len(brokertest.Received(t, outFile)[brokertest.Broadcast]) >= total/5
		}, time.Minute, 5*time.Millisecond)
		first.Kill(t)
		retries := svc.Broker().Stats().Retries
		require.Eventually(t, func() bool { return svc.Broker().Stats().Retries >= retries+2 }, time.Minute, 5*time.Millisecond,
			"the service's broker retries while the subscriber is down")
		brokertest.StartSubscriber(t, subAddr, regDir, outFile, "events")
		wg.Wait()
		assert.Zero(t, failed.Load(), "publications failed; first: %v", firstFailure.Load())
		got := brokertest.Received(t, outFile)
		for _, kind := range []string{brokertest.Broadcast, brokertest.Queue} {
			var lost []int
			for n := 1; n <= total; n++ {
				if got[kind][n] == 0 {
					lost = append(lost, n)
				}
			}
			assert.Empty(t, lost, "messages subscription %s never got", kind)
		}
		st := svc.Broker().Stats()
		assert.Zero(t, st.Lost)
		t.Logf("broker: published %d, delivered %d, retries %d, gone %d, dropped %d", st.Published, st.Delivered, st.Retries, st.Gone, st.Dropped)
	})

	bg.end()
	t.Logf("background: %d calls, %d failed", bg.calls.Load(), bg.failures.Load())
	assert.Positive(t, bg.calls.Load())
	assert.Zero(t, bg.failures.Load(), "background calls failed; first: %s", bg.first)
}
