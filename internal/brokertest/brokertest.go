// Package brokertest runs broker subscriber processes for tests: the test binary started
// again as a process that subscribes to a topic and records what it gets, so that a test can
// SIGKILL it mid-run (its registrations stay behind, as a crashed process's do) and start it
// again.
package brokertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/localregistry"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// The environment of a subscriber process.
const (
	envSubscriber = "MICROHOST_BROKERTEST_SUBSCRIBER"
	envAddress    = "MICROHOST_BROKERTEST_ADDRESS"
	envRegistry   = "MICROHOST_BROKERTEST_REGISTRY"
	envOut        = "MICROHOST_BROKERTEST_OUT"
	envTopic      = "MICROHOST_BROKERTEST_TOPIC"
)

// Kinds of subscription a subscriber process holds, as they appear in its output.
const (
	// Broadcast is its broadcast subscriber of the topic.
	Broadcast = "b"
	// Queue is its member of the queue group "workers" of the topic.
	Queue = "q"
)

// RunIfSubscriber makes the test binary a subscriber process when StartSubscriber started
// it: call it first in TestMain. It returns at once otherwise.
func RunIfSubscriber() {
	if os.Getenv(envSubscriber) == "" {
		return
	}
	if err := runSubscriber(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runSubscriber serves a broker on the given address and local registry with a broadcast
// subscriber and a queue group member of the topic, each appending "b N" or "q N" (N the
// message's "n") to the output file before it acknowledges the message. It prints "ready"
// and serves until it is killed.
func runSubscriber(ctx context.Context) error {
	reg, err := localregistry.New(os.Getenv(envRegistry))
	if err != nil {
		return err
	}
	out, err := os.OpenFile(os.Getenv(envOut), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	b, err := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}, Address: os.Getenv(envAddress),
		TTL: 30 * time.Second, Interval: 10 * time.Second})
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	var mu sync.Mutex
	record := func(kind string) broker.Handler {
		return func(_ context.Context, ev *broker.Event) error {
			var m struct{ N int }
			if err := json.Unmarshal(ev.Body, &m); err != nil {
				return fmt.Errorf("message %q: %w", ev.Body, err)
			}
			mu.Lock()
			defer mu.Unlock()
			_, err := fmt.Fprintf(out, "%s %d\n", kind, m.N)
			return err
		}
	}
	topic := os.Getenv(envTopic)
	for _, s := range []struct{ kind, queue string }{{Broadcast, ""}, {Queue, "workers"}} {
		if _, err := b.Subscribe(ctx, topic, s.queue, record(s.kind)); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	select {}
}

// Process is one run of a subscriber process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartSubscriber starts the test binary (whose TestMain calls RunIfSubscriber) as a
// subscriber process of topic on addr, registered in the local registry at regDir and
// appending what it gets to outFile, and returns once it is subscribed. The process is
// killed when the test ends.
func StartSubscriber(t testing.TB, addr, regDir, outFile, topic string) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSubscriber+"=1", envAddress+"="+addr, envRegistry+"="+regDir, envOut+"="+outFile, envTopic+"="+topic)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &Process{cmd: cmd, done: make(chan struct{})}
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
	t.Cleanup(func() { p.Kill(t) })
	select {
	case <-ready:
	case <-p.done:
		t.Fatal("the subscriber process exited before it was ready")
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber process did not get ready")
	}
	return p
}

// Kill SIGKILLs the process and waits for it to be gone. It does not deregister: its nodes
// stay in the registry until their TTL.
func (p *Process) Kill(t testing.TB) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Error("the subscriber process did not exit after SIGKILL")
	}
}

// Received reads a subscriber process's output file: per kind (Broadcast, Queue), how many
// times each message arrived.
func Received(t testing.TB, outFile string) map[string]map[int]int {
	t.Helper()
	got := map[string]map[int]int{Broadcast: {}, Queue: {}}
	data, err := os.ReadFile(outFile)
	if os.IsNotExist(err) {
		return got
	}
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var kind string
		var n int
		if _, err := fmt.Sscan(line, &kind, &n); err != nil {
			continue // a line cut by the kill
		}
		if got[kind] != nil {
			got[kind][n]++
		}
	}
	return got
}
