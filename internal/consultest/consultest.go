// Package consultest runs a real Consul agent for tests: `consul agent -dev` bound to
// 127.0.0.1 on free ports, with a data directory of its own, stopped at the test's cleanup.
//
// The agent binary is found on PATH or at bin/tools/consul in the module root, where
// `make deps` (scripts/deps.d/40-consul.sh) builds it. When it is missing a test is skipped,
// or fails with "run make deps" when the CI variable is set.
package consultest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/microhost/microhost/internal/logbuffer"
)

// Binary returns the path of the consul binary: PATH first, then bin/tools/consul above the
// current directory's module root.
func Binary() (string, error) {
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "tools", "consul")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("consul is neither on PATH nor at bin/tools/consul")
		}
		dir = parent
	}
}

// agentVersion returns the major and minor version of the consul binary at bin, read from the
// first line of `consul version` ("Consul v1.15.4").
func agentVersion(bin string) (major, minor int, err error) {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%s version: %w", bin, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(first), "Consul v")
	if !ok {
		return 0, 0, fmt.Errorf("%s version: unexpected first line %q", bin, first)
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("%s version: no minor version in %q", bin, first)
	}
	if major, err = strconv.Atoi(parts[0]); err == nil {
		minor, err = strconv.Atoi(parts[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s version: %q: %w", bin, first, err)
	}
	return major, minor, nil
}

// Agent is a running Consul agent in dev mode.
type Agent struct {
	// Addr is the HTTP API's address, 127.0.0.1:port.
	Addr string

	bin  string
	args []string
	logs *logbuffer.Buffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts an agent and waits until it has a leader. The agent stops at cleanup. With
// -short, the test is skipped instead.
func Start(t testing.TB) *Agent {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Consul agent")
	}
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: run make deps", err)
		}
		t.Skipf("%v: run make deps to build it", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		t.Fatalf("consultest: %v", err)
	}
	a := &Agent{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		bin:  bin,
		logs: &logbuffer.Buffer{},
	}
	a.args = []string{"agent", "-dev",
		"-bind", "127.0.0.1", "-client", "127.0.0.1", "-advertise", "127.0.0.1",
		"-node", fmt.Sprintf("consultest-%d", ports[0]),
		"-data-dir", t.TempDir(),
		"-http-port", strconv.Itoa(ports[0]),
		"-serf-lan-port", strconv.Itoa(ports[1]),
		"-serf-wan-port", strconv.Itoa(ports[2]),
		"-server-port", strconv.Itoa(ports[3]),
		"-grpc-port", strconv.Itoa(ports[4]),
		"-https-port=-1", "-dns-port=-1",
		"-log-level", "info",
	}
	major, minor, err := agentVersion(bin)
	if err != nil {
		t.Fatalf("consultest: %v", err)
	}
	if major > 1 || minor >= 14 {
		// From 1.14 a dev agent also serves gRPC over TLS on a fixed port (8503), which two
		// agents at once would both take. Older agents have neither the port nor the flag.
		a.args = append(a.args, "-grpc-tls-port=-1")
	}
	t.Cleanup(func() {
		a.Stop(t)
		if t.Failed() {
			t.Logf("consul agent logs:\n%s", a.logs.String())
		}
	})
	a.start(t)
	return a
}

func (a *Agent) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(a.bin, a.args...)
	cmd.Stdout, cmd.Stderr = a.logs, a.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("consultest: start %s: %v", a.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	a.mu.Lock()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	if err := a.waitLeader(done, 60*time.Second); err != nil {
		t.Fatalf("consultest: %v\n%s", err, a.logs.String())
	}
}

// waitLeader polls /v1/status/leader until the agent names a leader.
func (a *Agent) waitLeader(done chan struct{}, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Addr+"/v1/status/leader", nil)
		if rsp, err := client.Do(req); err == nil {
			b, _ := io.ReadAll(rsp.Body)
			rsp.Body.Close()
			if rsp.StatusCode == http.StatusOK && strings.Trim(strings.TrimSpace(string(b)), `"`) != "" {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("agent exited before electing a leader")
		case <-ctx.Done():
			return fmt.Errorf("agent has no leader after %s", bound)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the agent (SIGINT, then SIGKILL after 10 s). It is safe to call more than
// once.
func (a *Agent) Stop(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops the agent and starts it again on the same ports. A dev agent keeps its
// state in memory, so it comes back empty.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Stop(t)
	a.start(t)
}

// Logs returns what the agent has written so far.
func (a *Agent) Logs() string { return a.logs.String() }

// freePorts returns n distinct ports that were free for both TCP and UDP on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 100; tries++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		held = append(held, pc)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}
