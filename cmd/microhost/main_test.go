package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/logbuffer"
)

// Built once for the package: the microhost binary and the plugin folder.
var (
	binary    string
	pluginDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "microhost")
	pluginDir = filepath.Join(dir, "plugins")
	ctx := context.Background()
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build microhost: %v\n%s", err, out)
		return 1
	}
	for _, pkg := range []string{"./handlers/greeter", "./internal/host/testdata/testguest"} {
		if _, err := guestbuild.Go(ctx, pkg, pluginDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// server is a `microhost run` process.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs *logbuffer.Buffer
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening .*address=(\S+)`)

func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[service]
name = "greeter"
version = "1.0.0"

[server]
address = "127.0.0.1:0"

[plugins]
dir = %q

[[handler]]
module = "greeter"

[[handler]]
module = "testguest"
pool_size = 2
%s`, pluginDir, extra)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// startServer runs `microhost run` with env and waits for it to log its address.
func startServer(t *testing.T, config string, env ...string) *server {
	t.Helper()
	return startServerWith(t, binary, config, env...)
}

// startServerWith runs `run` of the microhost binary bin with env and waits for it to log
// its address.
func startServerWith(t *testing.T, bin, config string, env ...string) *server {
	t.Helper()
	s := &server{logs: &logbuffer.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "run", config)
	s.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = io.MultiWriter(s.logs, pw)
	require.NoError(t, s.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	go func() {
		_ = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	select {
	case s.addr = <-addr:
	case <-s.done:
		t.Fatalf("server exited early:\n%s", s.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start:\n%s", s.logs.String())
	}
	return s
}

func (s *server) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// cli runs the microhost binary and returns stdout, stderr and the exit code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return cliIn(t, "", env, args...)
}

// cliIn is cli run in the folder dir ("" for the current one).
func cliIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return stdout.String(), stderr.String(), code
}

func post(t *testing.T, addr, endpoint, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Micro-Service", "greeter")
	req.Header.Set("Micro-Endpoint", endpoint)
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp.StatusCode, rsp.Header, string(b)
}

func TestRunCallCurlAndShutdown(t *testing.T) {
	regDir := t.TempDir()
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + regDir}
	srv := startServer(t, writeConfig(t, ""), env...)
	// A Go module is megabytes: run says at info level that it compiles it, and how long
	// that took, rather than stay silent.
	greeter := regexp.QuoteMeta(filepath.Join(pluginDir, "greeter.wasm"))
	assert.Regexp(t, `level=INFO msg="loading module" path=`+greeter+` size="\d+\.\d MB"`, srv.logs.String())
	assert.Regexp(t, `level=INFO msg="loaded module" path=`+greeter+` took=\S+`, srv.logs.String())

	out, errOut, code := cli(t, env, "call", "greeter", "Greeter.Hello", `{"name":"John"}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\"greeting\":\"Hello John\"}\n", out)

	// The same call as curl makes it.
	status, _, body := post(t, srv.addr, "Greeter.Hello", "application/json", `{"name":"John"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, `{"greeting":"Hello John"}`, body)

	out, _, code = cli(t, env, "services")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "greeter")
	assert.Contains(t, out, srv.addr)
	assert.Contains(t, out, "Greeter.Hello")

	// services NAME shows the service in detail: the labels --label selects on, the
	// endpoints with their types.
	out, errOut, code = cli(t, env, "services", "greeter")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "greeter 1.0.0\n")
	assert.Regexp(t, `node\s+greeter-\S+\s+`+regexp.QuoteMeta(srv.addr), out)
	assert.Contains(t, out, "labels   protocol=mucp registry=local server=microhost transport=http")
	assert.Contains(t, out, "endpoint   Greeter.Hello")
	_, errOut, code = cli(t, env, "services", "nobody")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "nobody")

	// --address bypasses the registry: an empty registry still works.
	out, errOut, code = cli(t, []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}, "call", "--address", srv.addr, "greeter", "Greeter.Hello", `{"name":"Ann"}`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\"greeting\":\"Hello Ann\"}\n", out)

	srv.stop(t, syscall.SIGTERM)
	assert.Contains(t, srv.logs.String(), "msg=deregistered")
	_, errOut, code = cli(t, env, "call", "greeter", "Greeter.Hello", `{"name":"John"}`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service not found: greeter")
	assert.NotContains(t, errOut, "not found: service not found", "the reason is said once")
}

func TestErrorsKeepServing(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, writeConfig(t, ""), env...)
	cases := []struct {
		name, endpoint, ct, body string
		code                     int
		detail                   string
	}{
		{"unknown endpoint", "Greeter.Nope", "application/json", `{}`, 404, "unknown endpoint Greeter.Nope"},
		{"malformed JSON", "Greeter.Hello", "application/json", `{"name":`, 400, "malformed JSON body"},
		{"handler validation", "Greeter.Hello", "application/json", `{"name":""}`, 400, "name is required"},
		{"handler trap", "Test.Trap", "application/json", `{}`, 500, "handler for Test.Trap failed"},
		{"bad guest pointer", "Test.BadPointer", "application/json", `{}`, 500, "handler for Test.BadPointer failed (the handler faulted"},
		{"unsupported content type", "Greeter.Hello", "text/plain", `hi`, 415, "unsupported content type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := post(t, srv.addr, c.endpoint, c.ct, c.body)
			assert.Equal(t, c.code, status)
			assert.Contains(t, body, fmt.Sprintf(`"code":%d`, c.code))
			assert.Contains(t, body, `"id":"greeter"`)
			assert.Contains(t, body, c.detail)
			assert.Equal(t, body, hdr.Get("Micro-Error"))
			status, _, body = post(t, srv.addr, "Greeter.Hello", "application/json", `{"name":"again"}`)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, `{"greeting":"Hello again"}`, body)
		})
	}
	// The fault's details stay in the service's log, not in the caller's error.
	assert.Contains(t, srv.logs.String(), "outside the guest's memory")
	_, errOut, code := cli(t, env, "call", "greeter", "Greeter.Hello", `{"name":""}`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `"detail":"name is required"`)
}

func TestTimeoutStopsRunawayHandler(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	srv := startServer(t, writeConfig(t, ""), env...)
	_, errOut, code := cli(t, env, "call", "--timeout", "300ms", "--content-type", "application/json", "greeter", "Test.Loop", `"forever"`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `"code":408`)
	status, _, body := post(t, srv.addr, "Greeter.Hello", "application/json", `{"name":"after"}`)
	assert.Equal(t, http.StatusOK, status, body)
}

// TestServerAddressRange holds the first port of a range and checks that `microhost run`
// with MICROHOST_SERVER_ADDRESS set to the range takes the next one.
func TestServerAddressRange(t *testing.T) {
	var held net.Listener
	var first int
	for try := 0; try < 50 && held == nil; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		first = l.Addr().(*net.TCPAddr).Port
		if first >= 65530 {
			l.Close()
			continue
		}
		// The next two ports must be free for the range to be meaningful.
		probe, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+1))
		if err != nil {
			l.Close()
			continue
		}
		probe.Close()
		held = l
	}
	require.NotNil(t, held, "no free port pair found")
	defer held.Close()
	env := []string{
		"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir(),
		fmt.Sprintf("MICROHOST_SERVER_ADDRESS=127.0.0.1:%d-%d", first, first+2),
	}
	srv := startServer(t, writeConfig(t, ""), env...)
	assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", first+1), srv.addr)
}

// TestCLIPapercuts holds the usage errors to one line each, with exit status 2.
func TestCLIPapercuts(t *testing.T) {
	usage := func(want string, args ...string) string {
		t.Helper()
		_, errOut, code := cli(t, nil, args...)
		assert.Equal(t, 2, code, errOut)
		assert.Contains(t, errOut, want)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line, no usage dump: %s", errOut)
		return errOut
	}
	errOut := usage(`invalid value "soon" for flag -timeout`, "call", "--timeout", "soon", "greeter", "Greeter.Hello")
	assert.Equal(t, 1, strings.Count(errOut, "invalid value"), "the error once")
	assert.Contains(t, errOut, "run `microhost call -h` for the flags")
	usage("flag provided but not defined: -nope", "services", "--nope")
	usage("--timeout 0s: must be positive", "call", "--timeout", "0", "greeter", "Greeter.Hello")
	usage("--timeout -1s: must be positive", "publish", "--timeout", "-1s", "topic")
	usage("--timeout 0s: must be positive", "inspect", "--timeout", "0", "x.wasm")
	usage("--body is the request of --call: give --call ENDPOINT too", "inspect", "--body", `{"a":1}`, "x.wasm")
	usage("got 1 argument\n", "call", "greeter")
	usage("got 3 arguments", "run", "a", "b", "c")
	usage(`--server-address: malformed address "127.0.0.1:9000-8000"`, "run", "--server-address", "127.0.0.1:9000-8000", writeConfig(t, ""))
	usage(`--server-address: malformed address "nope"`, "validate", "--server-address", "nope", writeConfig(t, ""))

	// -h still prints the command's usage, and exits 0.
	_, errOut, code := cli(t, nil, "call", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "Usage: microhost call")
	assert.Contains(t, errOut, "-timeout")

	out, _, code := cli(t, nil, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "[--sdk PATH]")
	assert.Contains(t, out, "with NAME, show that one in\n")
	assert.Contains(t, out, "each node's labels")
}

func TestUsageErrors(t *testing.T) {
	_, errOut, code := cli(t, nil, "call", "greeter")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want SERVICE ENDPOINT [BODY]")
	_, errOut, code = cli(t, nil, "call", "greeter", "Greeter.Hello", "{bad")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "not valid JSON")
	_, errOut, code = cli(t, nil, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	_, errOut, code = cli(t, nil, "run", filepath.Join(t.TempDir(), "absent.toml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "absent.toml")

}

// TestErrorsNameFileAndKey requires each problem with server.address or with a module file
// to name the config file and the key, and a cut module to be called truncated.
func TestErrorsNameFileAndKey(t *testing.T) {
	env := []string{"MICROHOST_REGISTRY_ADDRESS=" + t.TempDir()}
	runErr := func(cfg string, env ...string) string {
		t.Helper()
		_, errOut, code := cli(t, env, "run", "--log-level", "warn", cfg)
		assert.Equal(t, 1, code, errOut)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %s", errOut)
		return errOut
	}
	cfg := writeConfig(t, "\n[[handler]]\nmodule = \"missing\"\n")
	assert.Contains(t, runErr(cfg, env...), "config "+cfg+": handler[2].module: load module: open "+filepath.Join(pluginDir, "missing.wasm"))

	broken := filepath.Join(t.TempDir(), "broken.wasm")
	require.NoError(t, os.WriteFile(broken, []byte("not wasm at all"), 0o644))
	cfg = writeConfig(t, fmt.Sprintf("\n[[handler]]\npath = %q\n", broken))
	errOut := runErr(cfg, env...)
	assert.Contains(t, errOut, "config "+cfg+": handler[2].path: load module "+broken+": not a WebAssembly binary")
	assert.NotContains(t, errOut, "truncated")

	whole, err := os.ReadFile(filepath.Join(pluginDir, "greeter.wasm"))
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.wasm")
	require.NoError(t, os.WriteFile(cut, whole[:len(whole)/2], 0o644))
	cfg = writeConfig(t, fmt.Sprintf("\n[[handler]]\npath = %q\n", cut))
	assert.Contains(t, runErr(cfg, env...), "config "+cfg+": handler[2].path: "+cut+" is truncated")
	cfg = filepath.Join(filepath.Dir(cut), "codec.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`[service]
name = "greeter"
[plugins]
dir = %q
[codec]
modules = ["json-codec", "cut"]
[[handler]]
path = %q
`, filepath.Dir(cut), filepath.Join(pluginDir, "greeter.wasm"))), 0o644))
	assert.Contains(t, runErr(cfg, env...), "config "+cfg+`: codec.modules[1] "cut": `+cut+" is truncated")

	cfg = writeConfig(t, "")
	errOut = runErr(cfg, append(env, "MICROHOST_SERVER_ADDRESS=127.0.0.1:9000-8000")...)
	assert.Contains(t, errOut, "config "+cfg+": server.address (set by $MICROHOST_SERVER_ADDRESS):")
	assert.Contains(t, errOut, `reversed port range "9000-8000"`)
	errOut = runErr(cfg, append(env, "MICROHOST_SERVER_ADDRESS=127.0.0.1:99999")...)
	assert.Contains(t, errOut, "config "+cfg+": server.address (set by $MICROHOST_SERVER_ADDRESS):")
	assert.Contains(t, errOut, `port "99999" out of range`)

	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	busy := held.Addr().String()
	errOut = runErr(cfg, append(env, "MICROHOST_SERVER_ADDRESS="+busy)...)
	assert.Contains(t, errOut, "config "+cfg+": server.address (set by $MICROHOST_SERVER_ADDRESS): port "+busy[strings.LastIndex(busy, ":")+1:]+" is in use")
	assert.NotContains(t, errOut, "exhausted")
}
