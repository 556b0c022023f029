package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/logbuffer"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// buildSwapHandler assembles a WAT handler named name that answers every endpoint in
// endpoints with reply, and returns the module's bytes.
func buildSwapHandler(t testing.TB, name, reply string, endpoints ...string) []byte {
	t.Helper()
	eps := make([]string, len(endpoints))
	for i, e := range endpoints {
		eps[i] = fmt.Sprintf(`{"name":%q}`, e)
	}
	desc := fmt.Sprintf(`{"kind":"handler","name":%q,"version":"1.0.0","endpoints":[%s]}`, name, strings.Join(eps, ","))
	esc := func(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }
	wat := fmt.Sprintf(`(module
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "%s")
  (data (i32.const 4096) "%s")
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const %d))
  (func (export "microhost_handle") (param i32 i32) (result i32)
    (call $response_body (i32.const 4096) (i32.const %d))
    (i32.const 0)))
`, esc(desc), esc(reply), len(desc), len(reply))
	dir := t.TempDir()
	src := filepath.Join(dir, name+".wat")
	require.NoError(t, os.WriteFile(src, []byte(wat), 0o644))
	out, err := guestbuild.WAT(context.Background(), src, filepath.Join(dir, "out"))
	if err != nil {
		t.Skipf("wat2wasm: %v", err)
	}
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// replace writes b to path as installers do: into a temporary file, renamed over path.
func replace(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, b, 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// startWatched runs a service serving the handler module "swapper" from dir, watching its
// files, until the test ends.
func startWatched(t testing.TB, dir string, logs *logbuffer.Buffer) *Service {
	t.Helper()
	return startWatchedWith(t, dir, logs, Deps{Catalogue: stockCatalogue(t), Compilations: testCompilations})
}

// startWatchedWith is startWatched with deps, whose registry and logger it sets.
func startWatchedWith(t testing.TB, dir string, logs *logbuffer.Buffer, deps Deps) *Service {
	t.Helper()
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	text := fmt.Sprintf(`
[service]
name = "swapper"
[server]
address = "127.0.0.1:0"
[registry]
address = %q
ttl = "2s"
interval = "100ms"
[plugins]
dir = %q
cache_dir = %q
[[handler]]
module = "swapper"
`, regDir, dir, host.DefaultCacheDir())
	deps.Registry = reg
	deps.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return runWatched(t, text, deps, logs)
}

// runWatched runs the service the config text describes, watching its module files, until
// the test ends; it returns once the files are watched.
func runWatched(t testing.TB, text string, deps Deps, logs *logbuffer.Buffer) *Service {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	cfg.Override(func(string) string { return "" }, nil)
	require.NoError(t, cfg.Finish())
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, deps)
	require.NoError(t, err)
	done := make(chan error, 2)
	go func() { done <- svc.Run(ctx) }()
	go func() { done <- svc.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		_ = svc.Close(context.Background())
	})
	// A file replaced before the folder is watched would go unnoticed: wait for the watch.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "msg=\"watching module files\"") }, 30*time.Second, 5*time.Millisecond)
	return svc
}

// load is continuous traffic on one endpoint from 32 keep-alive clients.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	// replies counts the bodies seen; late holds the bodies of requests started after
	// mark was set.
	replies map[string]int
	mark    atomic.Pointer[time.Time]
	late    map[string]int
	errs    []string
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(t testing.TB, addr, endpoint string, clients int) *load {
	l := &load{replies: map[string]int{}, late: map[string]int{}, stop: make(chan struct{})}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(2 * time.Minute) // bounded whatever happens
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				started := time.Now()
				body, err := call(hc, addr, endpoint)
				l.mu.Lock()
				if err != nil {
					l.failed.Add(1)
					if len(l.errs) < 10 {
						l.errs = append(l.errs, err.Error())
					}
				} else {
					l.ok.Add(1)
					l.replies[body]++
					if m := l.mark.Load(); m != nil && started.After(*m) {
						l.late[body]++
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func call(hc *http.Client, addr, endpoint string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader([]byte(`{"name":"x"}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Micro-Endpoint", endpoint)
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return string(b), nil
}

// The first test: a handler swapped 50 times under continuous load, then a broken
// file, a module of another name and a deletion — with no failed request.
func TestLiveSwapHandlerUnderLoad(t *testing.T) {
	v1 := buildSwapHandler(t, "swapper", `{"v":1}`, "Swap.Echo")
	v2 := buildSwapHandler(t, "swapper", `{"v":2}`, "Swap.Echo")
	other := buildSwapHandler(t, "other", `{"v":3}`, "Swap.Echo")
	dir := t.TempDir()
	file := filepath.Join(dir, "swapper.wasm")
	require.NoError(t, os.WriteFile(file, v1, 0o644))
	var logs logbuffer.Buffer
	svc := startWatched(t, dir, &logs)
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	live := svc.slots[0].live
	waitDigest := func(want []byte) {
		t.Helper()
		d := wasmcomponent.Digest(want)
		require.Eventually(t, func() bool { return live.Digest() == d }, 10*time.Second, 5*time.Millisecond)
	}

	l := startLoad(t, svc.Addr(), "Swap.Echo", 32)
	require.Eventually(t, func() bool { return l.ok.Load() > 100 }, 10*time.Second, 5*time.Millisecond)
	versions := [][]byte{v2, v1}
	swaps := 50
	if testing.Short() {
		swaps = 6
	}
	for i := range swaps {
		replace(t, file, versions[i%2])
		waitDigest(versions[i%2])
	}
	// The last swap (an even count) installed v1: every request started from now answers v1.
	now := time.Now()
	l.mark.Store(&now)
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.late[`{"v":1}`] > 100
	}, 10*time.Second, 5*time.Millisecond)

	// A file that is not Wasm, then a module of another name: both refused, named in the log.
	replace(t, file, []byte("this is not a wasm module"))
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "swap refused") && strings.Contains(logs.String(), "not a WebAssembly binary")
	}, 10*time.Second, 5*time.Millisecond)
	replace(t, file, other)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `declares itself the handler \"other\"`) }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, os.Remove(file))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "module file deleted") }, 10*time.Second, 5*time.Millisecond)
	before := l.ok.Load()
	require.Eventually(t, func() bool { return l.ok.Load() > before+100 }, 10*time.Second, 5*time.Millisecond)
	l.finish()

	assert.Zero(t, l.failed.Load(), "failed requests: %v", l.errs)
	assert.Equal(t, wasmcomponent.Digest(v1), live.Digest(), "the refused files left the running module")
	for body := range l.replies {
		assert.Contains(t, []string{`{"v":1}`, `{"v":2}`}, body)
	}
	assert.Equal(t, []string{`{"v":1}`}, keys(l.late), "requests after the last swap answered by the old module")
	assert.Equal(t, swaps, strings.Count(logs.String(), "msg=swapped"))
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "swap refused") {
			assert.Contains(t, line, file, "the refusal names the file")
		}
	}
	t.Logf("%d requests, %d swaps, replies %v", l.ok.Load(), swaps, l.replies)
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A module whose endpoints changed is routed and re-registered with its new endpoint list.
func TestLiveSwapReregistersNewEndpoints(t *testing.T) {
	v1 := buildSwapHandler(t, "swapper", `{"v":1}`, "Swap.Echo")
	v2 := buildSwapHandler(t, "swapper", `{"v":2}`, "Swap.Echo", "Swap.Extra")
	dir := t.TempDir()
	file := filepath.Join(dir, "swapper.wasm")
	require.NoError(t, os.WriteFile(file, v1, 0o644))
	var logs logbuffer.Buffer
	svc := startWatched(t, dir, &logs)
	hc := &http.Client{Timeout: 5 * time.Second}
	_, err := call(hc, svc.Addr(), "Swap.Extra")
	require.Error(t, err)

	replace(t, file, v2)
	require.Eventually(t, func() bool {
		body, err := call(hc, svc.Addr(), "Swap.Extra")
		return err == nil && body == `{"v":2}`
	}, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(svc.Record().Endpoints, func(e abi.Endpoint) bool { return e.Name == "Swap.Extra" })
	}, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "re-registered with new endpoints") }, 10*time.Second, 5*time.Millisecond)

	// The swap is counted and listed on the admin page's recent events.
	_, metrics := get(t, "http://"+svc.AdminAddr()+"/metrics")
	assert.Contains(t, metrics, `microhost_module_swaps_total{kind="handler",module="swapper",result="swapped"} 1`)
	ev := svc.Telemetry().Events()
	require.NotEmpty(t, ev)
	assert.Equal(t, "swap swapped", ev[0].Type)
	assert.Equal(t, "swapper", ev[0].Module)
}

// A component that runs as its native twin in mode auto is swapped live too: another build
// of its file takes over as Wasm, a broken file is refused with the twin still serving, and
// the stock build put back hands the work back to the twin.
func TestLiveSwapNativeComponentTakesOver(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "swapper.wasm"), buildSwapHandler(t, "swapper", `{"v":1}`, "Swap.Echo"), 0o644))
	stock, err := os.ReadFile(transportWasm(t))
	require.NoError(t, err)
	file := filepath.Join(dir, "http-transport.wasm")
	require.NoError(t, os.WriteFile(file, stock, 0o644))
	cat := stockCatalogue(t)
	cat.AddStockDigest("http-transport", wasmcomponent.Digest(stock))
	var logs logbuffer.Buffer
	svc := startWatchedWith(t, dir, &logs, Deps{Catalogue: cat, Compilations: testCompilations})
	require.Contains(t, logs.String(), `component=transport name=http-transport runs=native`)
	hc := &http.Client{Timeout: 5 * time.Second}
	echo := func() bool {
		body, err := call(hc, svc.Addr(), "Swap.Echo")
		return err == nil && body == `{"v":1}`
	}

	replace(t, file, []byte("not wasm"))
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "swap refused; the native twin keeps serving") && strings.Contains(logs.String(), file)
	}, 10*time.Second, 5*time.Millisecond)
	require.True(t, echo())

	// The build is compiled ahead, as the swaps under load do, so the bound measures the swap
	// and not a cold compile (two, with the start-up proof) under the race detector.
	build := guestbuild.Variant(stock, 1)
	precompile(t, build)
	replace(t, file, build)
	want := fmt.Sprintf("new_digest=%s runs=wasm", short(wasmcomponent.Digest(build)))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), want) }, 30*time.Second, 5*time.Millisecond)
	require.True(t, echo())

	replace(t, file, stock)
	want = fmt.Sprintf("new_digest=%s runs=native", short(wasmcomponent.Digest(stock)))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), want) }, 30*time.Second, 5*time.Millisecond)
	require.True(t, echo())
}

// A registry module that loads and declares every operation but fails the registry's
// conformance suite is refused, and the running registry keeps the service registered.
func TestLiveSwapRegistryRunsConformance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "swapper.wasm"), buildSwapHandler(t, "swapper", `{"v":1}`, "Swap.Echo"), 0o644))
	out, err := guestbuild.Go(ctx, "./plugins/local-registry/wasm", t.TempDir())
	require.NoError(t, err)
	stock, err := os.ReadFile(out)
	require.NoError(t, err)
	file := filepath.Join(dir, "local-registry.wasm")
	require.NoError(t, os.WriteFile(file, stock, 0o644))
	// The broken registry of the conformance tests, under the stock registry's name.
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := guestbuild.ModuleRoot(wd)
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(root, "internal", "conformance", "testdata", "broken-registry.wat"))
	require.NoError(t, err)
	srcFile := filepath.Join(t.TempDir(), "broken.wat")
	require.NoError(t, os.WriteFile(srcFile, []byte(strings.Replace(string(src), `\"name\":\"broken-registry\"`, `\"name\":\"local-registry\"`, 1)), 0o644))
	broken, err := guestbuild.WAT(ctx, srcFile, t.TempDir())
	require.NoError(t, err)
	brokenWasm, err := os.ReadFile(broken)
	require.NoError(t, err)

	regDir := t.TempDir()
	var logs logbuffer.Buffer
	svc := runWatched(t, fmt.Sprintf(`
[service]
name = "swapper"
[server]
address = "127.0.0.1:0"
[registry]
mode = "wasm"
address = %q
ttl = "2s"
interval = "100ms"
[plugins]
dir = %q
cache_dir = %q
[[handler]]
module = "swapper"
`, regDir, dir, host.DefaultCacheDir()), Deps{Catalogue: stockCatalogue(t), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Compilations: testCompilations}, &logs)

	replace(t, file, brokenWasm)
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "swap refused; the running module keeps serving") && strings.Contains(logs.String(), "local-registry.wasm")
	}, 60*time.Second, 10*time.Millisecond, logs.String())
	reader, err := localregistry.New(regDir)
	require.NoError(t, err)
	svcs, err := reader.GetService(ctx, "swapper")
	require.NoError(t, err)
	require.NotEmpty(t, svcs)
	_, err = svc.Lookups().GetService(ctx, "swapper")
	require.NoError(t, err, "the registry module keeps serving")
}
