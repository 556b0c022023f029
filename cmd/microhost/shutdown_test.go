package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drainConfig is a service with the test module, a long handler timeout and drain.
func drainConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = "drainer"
version = "1.0.0"

[server]
address = "127.0.0.1:0"
timeout = "60s"
drain_timeout = "30s"

[plugins]
dir = %q

[[handler]]
module = "testguest"
pool_size = 2
`, pluginDir)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func sleepCall(addr, d string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(`"`+d+`"`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Micro-Endpoint", "Test.Sleep")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	rsp.Body.Close()
	return rsp.StatusCode, nil
}

// TestShutdownDrainsThenExitsZero: a request in progress at SIGTERM finishes, the drain is
// logged, and run exits 0.
func TestShutdownDrainsThenExitsZero(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, drainConfig(t), env...)
	replied := make(chan error, 1)
	go func() {
		_, err := sleepCall(srv.addr, "1500ms")
		replied <- err
	}()
	// Let the request reach the handler; the drain must then wait for it.
	time.Sleep(300 * time.Millisecond)
	srv.stop(t, syscall.SIGTERM)
	assert.NoError(t, <-replied, "the request in progress was answered")
	assert.Equal(t, 0, srv.cmd.ProcessState.ExitCode(), srv.logs.String())
	assert.Contains(t, srv.logs.String(), "msg=draining")
	assert.Contains(t, srv.logs.String(), "msg=drained")
}

// TestSecondSignalForcesExit: during a long drain, a second signal ends run at once.
func TestSecondSignalForcesExit(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, drainConfig(t), env...)
	go func() { _, _ = sleepCall(srv.addr, "50s") }()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "msg=draining") }, 10*time.Second, 10*time.Millisecond)
	start := time.Now()
	srv.stop(t, syscall.SIGINT)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, srv.cmd.ProcessState.ExitCode())
	assert.Contains(t, srv.logs.String(), "second signal")
}
