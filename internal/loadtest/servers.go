package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/logbuffer"
)

// proc is a server process.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
	env  []string // the environment it runs with, for CLI commands against it
	logs *logbuffer.Buffer
	done chan struct{}
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// start starts cmd with its output in p.logs; lines go to onLine as well.
func start(name string, cmd *exec.Cmd, onLine func(string)) (*proc, error) {
	p := &proc{name: name, cmd: cmd, logs: &logbuffer.Buffer{}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	out := io.MultiWriter(p.logs, pw)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			onLine(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	return p, nil
}

// startListening starts a server that prints "listening ADDRESS" when it serves.
func startListening(_ context.Context, name string, cmd *exec.Cmd) (*proc, error) {
	addrc := make(chan string, 1)
	p, err := start(name, cmd, func(l string) {
		if a, ok := strings.CutPrefix(l, "listening "); ok {
			select {
			case addrc <- strings.TrimSpace(a):
			default:
			}
		}
	})
	if err != nil {
		return nil, err
	}
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited: %s", name, p.logs.String())
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s: %w", name, errNotReady)
	}
}

// buildGoMicro builds the Go Micro peer from the interop module into dir.
func buildGoMicro(ctx context.Context, dir string) (string, error) {
	root, err := guestbuild.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "gomicro-greeter")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/gomicro-greeter")
	cmd.Dir = filepath.Join(root, "interop")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the Go Micro greeter (interop module): %w: %s", err, b)
	}
	return out, nil
}

// microhostRow is a microhost configuration of the throughput table.
type microhostRow struct {
	name, mode, handler string
}

var microhostRows = []microhostRow{
	{"make run (auto), Go handler", "auto", "greeter"},
	{"native twins, Go handler", "native", "greeter"},
	{"every component in Wasm, Go handler", "wasm", "greeter"},
	{"native twins, C handler", "native", "greeter-c"},
	{"every component in Wasm, C handler", "wasm", "greeter-c"},
}

// startupRows are the start-up table's configurations; the first is kept running for the
// CLI figures.
var startupRows = []microhostRow{
	{"make run (examples/greeter: auto, Go handler)", "auto", "greeter"},
	{"native twins, C handler", "native", "greeter-c"},
	{"every component in Wasm, Go handler", "wasm", "greeter"},
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeConfig writes the config of v on addr, with a registry folder of its own, and returns
// its path and the environment for CLI commands against it.
func writeConfig(o options, work string, v microhostRow, addr string) (string, []string, error) {
	dir, err := os.MkdirTemp(work, "svc-")
	if err != nil {
		return "", nil, err
	}
	reg := filepath.Join(dir, "registry")
	var kinds strings.Builder
	for _, k := range []string{"codec", "transport", "selector", "broker", "registry"} {
		fmt.Fprintf(&kinds, "[%s]\nmode = %q\n", k, v.mode)
		if k == "registry" {
			fmt.Fprintf(&kinds, "address = %q\n", reg)
		}
	}
	text := fmt.Sprintf(`[service]
name = "greeter"
version = "1.0.0"
[server]
address = %q
[plugins]
dir = %q
%s
[[handler]]
module = %q
`, addr, o.plugins, kinds.String(), v.handler)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", nil, err
	}
	return path, []string{"MICROHOST_REGISTRY_ADDRESS=" + reg}, nil
}

// startMicrohost runs `microhost run` for v and waits until it answers a request.
func startMicrohost(ctx context.Context, o options, work string, v microhostRow) (*proc, error) {
	_, _, p, err := startTimed(ctx, o, work, v)
	return p, err
}

// startTimed starts `microhost run` for v and returns how long it took to answer its first
// request, its resident memory then, and the process.
func startTimed(ctx context.Context, o options, work string, v microhostRow) (time.Duration, int64, *proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, nil, err
	}
	cfg, env, err := writeConfig(o, work, v, addr)
	if err != nil {
		return 0, 0, nil, err
	}
	cmd := exec.CommandContext(ctx, o.bin, "run", cfg)
	cmd.Env = append(os.Environ(), env...)
	began := time.Now()
	p, err := start(v.name, cmd, func(string) {})
	if err != nil {
		return 0, 0, nil, err
	}
	p.addr, p.env = addr, env
	client := &http.Client{Timeout: time.Second}
	for {
		if greet(client, addr) == nil {
			break
		}
		select {
		case <-p.done:
			return 0, 0, nil, fmt.Errorf("microhost exited: %s", p.logs.String())
		case <-time.After(time.Millisecond):
		}
		if time.Since(began) > 60*time.Second {
			p.stop()
			return 0, 0, nil, errNotReady
		}
	}
	took := time.Since(began)
	rss, err := residentBytes(p.cmd.Process.Pid)
	if err != nil {
		p.stop()
		return 0, 0, nil, err
	}
	return took, rss, p, nil
}

// greet sends one Greeter.Hello and checks the answer.
func greet(c *http.Client, addr string) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(requestBody))
	if err != nil {
		return err
	}
	for k, v := range requestHeaders {
		req.Header.Set(k, v)
	}
	rsp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	if err != nil {
		return err
	}
	if rsp.StatusCode != http.StatusOK || string(b) != wantReply {
		return fmt.Errorf("answer %d %q", rsp.StatusCode, b)
	}
	return nil
}

// measureStartup starts v three times (after one start that fills the compilation cache) and
// returns the median time to the first request served and the RSS of that start; the last
// process is returned running.
func measureStartup(ctx context.Context, o options, work string, v microhostRow) (time.Duration, int64, *proc, error) {
	type sample struct {
		took time.Duration
		rss  int64
	}
	var samples []sample
	var last *proc
	for i := range 4 {
		took, rss, p, err := startTimed(ctx, o, work, v)
		if err != nil {
			return 0, 0, nil, err
		}
		if i > 0 {
			samples = append(samples, sample{took, rss})
		}
		if i < 3 {
			p.stop()
		} else {
			last = p
		}
	}
	slices.SortFunc(samples, func(a, b sample) int { return int(a.took - b.took) })
	m := samples[len(samples)/2]
	return m.took, m.rss, last, nil
}

// measureCLI runs microhost with args five times and returns the median wall time.
func measureCLI(ctx context.Context, bin string, env, args []string) (time.Duration, error) {
	var times []time.Duration
	for range 5 {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		began := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%w: %s", err, out)
		}
		times = append(times, time.Since(began))
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// residentBytes reads a process's VmRSS.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}

// servePlain is `loadtest plain`: the greeter's logic in a plain net/http handler.
func servePlain(args []string) error {
	fs := flag.NewFlagSet("plain", flag.ContinueOnError)
	addr := fs.String("address", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
			http.Error(w, `{"code":400}`, http.StatusBadRequest)
			return
		}
		b, _ := json.Marshal(struct {
			Greeting string `json:"greeting"`
		}{"Hello " + req.Name})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	fmt.Println("listening", ln.Addr())
	srv := &http.Server{Handler: h}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
