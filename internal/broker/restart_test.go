package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/localregistry"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// The environment variables that make the test binary a subscriber process (see
// runSubscriberProcess).
const (
	childEnv     = "MICROHOST_BROKER_TEST_SUBSCRIBER"
	childAddr    = "MICROHOST_BROKER_TEST_ADDRESS"
	childRegDir  = "MICROHOST_BROKER_TEST_REGISTRY"
	childOutFile = "MICROHOST_BROKER_TEST_OUT"
)

// runSubscriberProcess is the subscriber process of TestSubscriberKilledAndRestarted: a
// broker on the given address and registry, with a broadcast subscriber ("b") and a queue
// group subscriber ("q") of "events", each appending "b N" or "q N" to the output file before
// it acknowledges the message. It prints "ready" and serves until it is killed.
func runSubscriberProcess() int {
	ctx := context.Background()
	reg, err := localregistry.New(os.Getenv(childRegDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, err := os.OpenFile(os.Getenv(childOutFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, err := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}, Address: os.Getenv(childAddr),
		TTL: 30 * time.Second, Interval: 10 * time.Second})
	if err == nil {
		err = b.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	record := func(kind string) broker.Handler {
		return func(_ context.Context, ev *broker.Event) error {
			mu.Lock()
			defer mu.Unlock()
			_, err := fmt.Fprintf(out, "%s %s\n", kind, ev.Body)
			return err
		}
	}
	for _, s := range []struct{ kind, queue string }{{"b", ""}, {"q", "workers"}} {
		if _, err := b.Subscribe(ctx, "events", s.queue, record(s.kind)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	select {}
}

// subscriberProcess is one run of the subscriber process.
type subscriberProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startSubscriberProcess(t *testing.T, addr, regDir, outFile string) *subscriberProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childAddr+"="+addr, childRegDir+"="+regDir, childOutFile+"="+outFile)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &subscriberProcess{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	select {
	case <-ready:
	case <-p.done:
		t.Fatal("the subscriber process exited before it was ready")
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber process did not get ready")
	}
	return p
}

// kill SIGKILLs the process and waits for it to be gone: no deregistration, its nodes stay
// in the registry until their TTL.
func (p *subscriberProcess) kill(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Error("the subscriber process did not exit after SIGKILL")
	}
}

// received reads the output file: per kind ("b", "q"), how many times each message arrived.
func received(t *testing.T, outFile string) map[string]map[int]int {
	t.Helper()
	data, err := os.ReadFile(outFile)
	if os.IsNotExist(err) {
		return map[string]map[int]int{"b": {}, "q": {}}
	}
	require.NoError(t, err)
	got := map[string]map[int]int{"b": {}, "q": {}}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		kind, body, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(body, `{"n":`), "}"))
		require.NoError(t, err, line)
		got[kind][n]++
	}
	return got
}

// TestSubscriberKilledAndRestarted publishes a bounded run of messages to a subscriber
// process — a broadcast subscriber and a queue group member of the topic — that is SIGKILLed
// midway and restarted on the same address under new node ids, while its old nodes stay in
// the registry, beside a steady in-process subscriber. Within the retry window nothing is
// lost (every subscriber got every message), and no publication is reported dropped: the
// listener's 404 for a dead node id is not a refusal, the publisher resolves the topic's
// subscribers again and reaches the restarted ones.
func TestSubscriberKilledAndRestarted(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { testSubscriberKilledAndRestarted(t, mode) })
	}
}

func testSubscriberKilledAndRestarted(t *testing.T, mode string) {
	const total, workers = 500, 4
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	outFile := t.TempDir() + "/received"

	steadyB, err := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}})
	require.NoError(t, err)
	require.NoError(t, steadyB.Start(context.Background()))
	t.Cleanup(func() { _ = steadyB.Close(context.Background()) })
	var steadyMu sync.Mutex
	steady := map[int]int{}
	_, err = steadyB.Subscribe(context.Background(), "events", "", func(_ context.Context, ev *broker.Event) error {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(ev.Body), `{"n":`), "}"))
		steadyMu.Lock()
		steady[n]++
		steadyMu.Unlock()
		return err
	})
	require.NoError(t, err)

	first := startSubscriberProcess(t, addr, regDir, outFile)
	// The publisher routes through the protocol of mode: the native twin or the http-broker
	// module.
	pub, err := broker.New(broker.Options{Registry: reg, Protocol: newEnv(t).protocol(mode), RetryFor: 20 * time.Second})
	require.NoError(t, err)
	require.NoError(t, pub.Start(context.Background()))
	t.Cleanup(func() { _ = pub.Close(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var failures []string
	results := make([]*broker.PublishResult, total+1)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > total || ctx.Err() != nil {
					return
				}
				res, err := pub.PublishResult(ctx, "events", &broker.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)})
				mu.Lock()
				results[i] = res
				if err != nil {
					failures = append(failures, fmt.Sprintf("%d: %v", i, err))
				}
				mu.Unlock()
			}
		})
	}

	// Kill the subscriber a fifth of the way in; restart it once the publisher is retrying.
	require.Eventually(t, func() bool { return len(received(t, outFile)["b"]) >= total/5 }, time.Minute, 5*time.Millisecond)
	first.kill(t)
	killedAt := next.Load()
	require.Eventually(t, func() bool { return pub.Stats().Retries >= 3 }, time.Minute, 5*time.Millisecond,
		"the publisher retries while the subscriber is down")
	startSubscriberProcess(t, addr, regDir, outFile)
	wg.Wait()
	require.NoError(t, ctx.Err())
	assert.Less(t, killedAt, int64(total), "the subscriber was killed after the run ended")

	assert.Empty(t, failures, "publications reported dropped")
	got := received(t, outFile)
	var lostB, lostQ, lostSteady, short []int
	for i := 1; i <= total; i++ {
		if got["b"][i] == 0 {
			lostB = append(lostB, i)
		}
		if got["q"][i] == 0 {
			lostQ = append(lostQ, i)
		}
		if steady[i] == 0 {
			lostSteady = append(lostSteady, i)
		}
		if r := results[i]; r == nil || len(r.Delivered) != 3 || len(r.Failed) != 0 {
			short = append(short, i)
		}
	}
	assert.Empty(t, lostB, "messages the restarted broadcast subscriber never got")
	assert.Empty(t, lostQ, "messages the restarted queue group never got")
	assert.Empty(t, lostSteady, "messages the steady subscriber never got")
	assert.Empty(t, short, "publications whose result does not list three subscribers")
	st := pub.Stats()
	assert.Zero(t, st.Lost)
	assert.Zero(t, st.Dropped)
	assert.Positive(t, st.Gone, "the dead nodes' ids were answered 404 by the restarted listener")
	t.Logf("published %d, killed after %d, retries %d, gone %d, duplicates b=%d q=%d", total, killedAt, st.Retries, st.Gone,
		dups(got["b"]), dups(got["q"]))
}

func dups(m map[int]int) int {
	n := 0
	for _, c := range m {
		n += c - 1
	}
	return n
}
