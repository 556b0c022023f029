// Command loadtest drives the greeter end to end over loopback and prints, in one run, the
// throughput and latency of several servers doing the same work:
//
//   - a plain net/http handler that decodes and encodes the JSON natively (the practical
//     limit of an HTTP server in Go);
//   - microhost as `make run` serves it: every component in mode auto, the plugin folder
//     holding the stock builds, so the native twins run;
//   - microhost with the native twins of the transport and codec plugins (the handler is
//     always a .wasm);
//   - microhost with every part a Wasm module: transport, codec and handler;
//
// the last two with the Go greeter and with the C greeter, to show what the handler's
// language costs, and the Go greeter also with interrupt = false, to show what stopping
// runaway guests at their deadline costs.
//
// Each server gets the same load: a fixed number of connections, each sending requests
// back to back on a kept-alive connection for a fixed time. Figures drift between runs on
// a shared machine; compare the ratios of one run.
//
//	go run ./internal/loadtest -plugins bin/plugins -c 32 -d 5s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/plugins/standard"
)

func main() {
	plugins := flag.String("plugins", "bin/plugins", "folder with greeter.wasm and the stock plugins (make build)")
	conns := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "load time per server")
	only := flag.String("only", "", "run only the server whose name contains this (for profiling)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	filter = *only
	if err := run(*plugins, *conns, *dur); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// filter is the -only flag.
var filter string

// result is one server's figures.
type result struct {
	name     string
	requests int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

func run(plugins string, conns int, dur time.Duration) error {
	ctx := context.Background()
	abs, err := filepath.Abs(plugins)
	if err != nil {
		return err
	}
	for _, f := range []string{"greeter.wasm", "http-transport.wasm", "json-codec.wasm"} {
		if _, err := os.Stat(filepath.Join(abs, f)); err != nil {
			return fmt.Errorf("%w (run make build first)", err)
		}
	}
	var results []result

	plain, stop, err := servePlain()
	if err != nil {
		return err
	}
	results = append(results, load(ctx, "plain net/http handler", plain, conns, dur))
	stop()
	if filter != "" {
		results = results[:0]
	}

	for _, v := range []struct {
		name, mode, handler string
		interrupt           bool
	}{
		{"make run (auto), Go handler", "auto", "greeter", true},
		{"native twins, Go handler", "native", "greeter", true},
		{"all Wasm, Go handler", "wasm", "greeter", true},
		{"native twins, Go, no interrupt", "native", "greeter", false},
		{"all Wasm, Go, no interrupt", "wasm", "greeter", false},
		{"native twins, C handler", "native", "greeter-c", true},
		{"all Wasm, C handler", "wasm", "greeter-c", true},
	} {
		if filter != "" && !strings.Contains(v.name, filter) {
			continue
		}
		if _, err := os.Stat(filepath.Join(abs, v.handler+".wasm")); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: skipping %q: %v\n", v.name, err)
			continue
		}
		addr, stop, err := serveMicrohost(ctx, abs, v.mode, v.handler, v.interrupt)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		results = append(results, load(ctx, v.name, addr, conns, dur))
		stop()
	}

	fmt.Printf("greeter over loopback, %d connections, %s each\n\n", conns, dur)
	fmt.Printf("%-32s %10s %10s %10s %8s %12s\n", "server", "req/s", "p50", "p99", "errors", "vs net/http")
	for _, r := range results {
		fmt.Printf("%-32s %10.0f %10s %10s %8d %11.2fx\n", r.name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors, r.rps/results[0].rps)
	}
	for _, r := range results {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d requests failed", r.name, r.errors)
		}
	}
	return nil
}

// servePlain serves the greeter's logic from a plain net/http handler.
func servePlain() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
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
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// serveMicrohost runs a greeter service with the transport and codecs in mode.
func serveMicrohost(ctx context.Context, plugins, mode, handler string, interrupt bool) (string, func(), error) {
	dir, err := os.MkdirTemp("", "microhost-loadtest-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`
[service]
name = "greeter"
[server]
address = "127.0.0.1:0"
[registry]
address = %q
[plugins]
dir = %q
cache_dir = %q
[codec]
mode = %q
[transport]
mode = %q
[[handler]]
module = %q
interrupt = %t
`, filepath.Join(dir, "registry"), plugins, host.DefaultCacheDir(), mode, mode, handler, interrupt)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return "", nil, err
	}
	cfg.Override(func(string) string { return "" }, nil)
	if err := cfg.Finish(); err != nil {
		return "", nil, err
	}
	reg, err := localregistry.New(cfg.Registry.Address)
	if err != nil {
		return "", nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	cat, err := stockCatalogue(plugins)
	if err != nil {
		cancel()
		return "", nil, err
	}
	svc, err := service.New(runCtx, cfg, service.Deps{Registry: reg, Catalogue: cat})
	if err != nil {
		cancel()
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	stop := func() {
		cancel()
		<-done
		_ = svc.Close(ctx)
		_ = os.RemoveAll(dir)
	}
	return svc.Addr(), stop, nil
}

// stockCatalogue returns the stock twins with the digests of the plugin folder's stock files
// recorded, as `make build` links them into bin/microhost: the folder is what make built.
func stockCatalogue(plugins string) (*component.Catalogue, error) {
	cat, err := standard.Catalogue("")
	if err != nil {
		return nil, err
	}
	for _, kind := range []component.Kind{component.KindCodec, component.KindSelector, component.KindTransport, component.KindBroker, component.KindRegistry} {
		for _, name := range cat.Names(kind) {
			d, err := component.Digest(filepath.Join(plugins, name+".wasm"))
			if err == nil {
				cat.AddStockDigest(name, d)
			}
		}
	}
	return cat, nil
}

// load sends requests from conns connections for dur and collects latencies.
func load(ctx context.Context, name, addr string, conns int, dur time.Duration) result {
	c := transport.NewClient(transport.ClientOptions{PoolSize: conns})
	defer c.Close()
	hdr := []component.TransportHeader{
		{Name: []byte(component.HeaderContentType), Value: []byte("application/json")},
		{Name: []byte(component.HeaderMicroService), Value: []byte("greeter")},
		{Name: []byte(component.HeaderMicroEndpoint), Value: []byte("Greeter.Hello")},
	}
	body := []byte(`{"name":"John"}`)
	want := `{"greeting":"Hello John"}`
	// Warm up: fill the pools and the instance pools.
	for range conns {
		_, _ = c.Call(ctx, addr, hdr, body)
	}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			bad := 0
			for time.Now().Before(deadline) {
				start := time.Now()
				rep, err := c.Call(ctx, addr, hdr, body)
				if err != nil || rep.Status != 200 || string(rep.Body) != want {
					bad++
					if errors.Is(err, context.Canceled) {
						break
					}
					continue
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	r := result{name: name, requests: len(lat), errors: errs, rps: float64(len(lat)) / dur.Seconds()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}
