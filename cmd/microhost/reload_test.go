package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/logbuffer"
)

// With the watcher off, a replaced module file is swapped in only when asked: by
// `microhost reload PID-FILE`, which sends SIGHUP.
func TestReloadSwapsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	greeter, err := os.ReadFile(filepath.Join(pluginDir, "greeter.wasm"))
	require.NoError(t, err)
	file := filepath.Join(dir, "greeter.wasm")
	require.NoError(t, os.WriteFile(file, greeter, 0o644))
	config := filepath.Join(dir, "config.toml")
	require.NoError(t, os.WriteFile(config, []byte(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[plugins]
dir = "."
[[handler]]
module = "greeter"
`), 0o644))
	pidFile := filepath.Join(dir, "microhost.pid")
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}

	logs := &logbuffer.Buffer{}
	cmd := exec.Command(binary, "run", "--watch=false", "--pid-file", pidFile, config)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(logs, pw)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "msg=listening") }, 60*time.Second, 10*time.Millisecond)
	require.FileExists(t, pidFile)

	// Another build of the greeter: a custom section changes its bytes, not its behaviour.
	rebuilt := append(append([]byte{}, greeter...), 0, 5, 3, 'x', 'y', 'z', '1')
	tmp := file + ".tmp"
	require.NoError(t, os.WriteFile(tmp, rebuilt, 0o644))
	require.NoError(t, os.Rename(tmp, file))
	time.Sleep(300 * time.Millisecond) // the watcher is off: nothing may happen on its own
	assert.NotContains(t, logs.String(), "msg=swapped")

	_, errOut, code := cli(t, env, "reload", pidFile)
	require.Equal(t, 0, code, errOut)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "msg=swapped") }, 30*time.Second, 10*time.Millisecond)
	out, errOut, code := cli(t, env, "call", "greeter", "Greeter.Hello", `{"name":"Re"}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\"greeting\":\"Hello Re\"}\n", out)

	_, errOut, code = cli(t, env, "reload", filepath.Join(dir, "missing.pid"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "read pid file")
}
