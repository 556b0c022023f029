package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/transport"
)

// The request every load sends, as Go Micro's HTTP transport sends it, and the reply it wants.
const (
	requestBody = `{"name":"John"}`
	wantReply   = `{"greeting":"Hello John"}`
)

var requestHeaders = map[string]string{
	"Content-Type":   "application/json",
	"Micro-Service":  "greeter",
	"Micro-Endpoint": "Greeter.Hello",
}

// result is one server's figures.
type result struct {
	name     string
	requests int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

// generator loads a server from a process of its own.
type generator struct {
	name string
	load func(ctx context.Context, addr string, conns int, dur time.Duration) (result, error)
}

// chooseGenerator returns wrk (when asked, or for auto when it is on PATH) or the Go one.
func chooseGenerator(which string) (generator, error) {
	wrk, err := exec.LookPath("wrk")
	switch {
	case which == "wrk" && err != nil:
		return generator{}, fmt.Errorf("wrk: %w (Debian's package wrk)", err)
	case which == "wrk" || which == "auto" && err == nil:
		return generator{name: "wrk -t1", load: func(ctx context.Context, addr string, conns int, dur time.Duration) (result, error) {
			return runWrk(ctx, wrk, addr, conns, dur)
		}}, nil
	case which == "go" || which == "auto":
		self, err := os.Executable()
		if err != nil {
			return generator{}, err
		}
		return generator{name: "the Go load generator (loadtest load)", load: func(ctx context.Context, addr string, conns int, dur time.Duration) (result, error) {
			return runGoLoad(ctx, self, addr, conns, dur)
		}}, nil
	}
	return generator{}, fmt.Errorf("unknown load generator %q: want wrk, go or auto", which)
}

// wrkScript makes wrk send the greeter request.
const wrkScript = `wrk.method = "POST"
wrk.body = '{"name":"John"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Micro-Service"] = "greeter"
wrk.headers["Micro-Endpoint"] = "Greeter.Hello"
`

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkErrors  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

// runWrk loads addr with wrk -t1 and parses its report.
func runWrk(ctx context.Context, wrk, addr string, conns int, dur time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "microhost-wrk-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "greeter.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return result{}, err
	}
	// Warm up: the connections, the instance pools.
	warm := exec.CommandContext(ctx, wrk, "-t1", fmt.Sprintf("-c%d", conns), "-d1s", "-s", script, "http://"+addr+"/")
	if out, err := warm.CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, wrk, "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(dur.Seconds())), "--latency", "-s", script, "http://"+addr+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(out)
}

// parseWrk reads the figures of a wrk --latency report.
func parseWrk(out []byte) (result, error) {
	var r result
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("no Requests/sec in wrk's report: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkTotal.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(string(m[1]))
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		r.errors += n
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	for _, m := range wrkPercent.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}

// goLoadReport is what `loadtest load` prints.
type goLoadReport struct {
	Requests int   `json:"requests"`
	Errors   int   `json:"errors"`
	P50      int64 `json:"p50_ns"`
	P99      int64 `json:"p99_ns"`
}

// runGoLoad runs `loadtest load` against addr.
func runGoLoad(ctx context.Context, self, addr string, conns int, dur time.Duration) (result, error) {
	cmd := exec.CommandContext(ctx, self, "load", "-c", strconv.Itoa(conns), "-d", dur.String(), addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("loadtest load: %w: %s", err, stderr.String())
	}
	var rep goLoadReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return result{}, fmt.Errorf("loadtest load printed %q: %w", out, err)
	}
	return result{requests: rep.Requests, errors: rep.Errors, rps: float64(rep.Requests) / dur.Seconds(),
		p50: time.Duration(rep.P50), p99: time.Duration(rep.P99)}, nil
}

// loadCommand is `loadtest load [-c N] [-d D] ADDRESS`: it sends the greeter request from N
// kept-alive connections for D and prints a JSON report.
func loadCommand(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	conns := fs.Int("c", 32, "concurrent connections")
	dur := fs.Duration("d", 5*time.Second, "load time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: loadtest load [-c N] [-d D] ADDRESS")
	}
	r := load(context.Background(), fs.Arg(0), *conns, *dur)
	return json.NewEncoder(os.Stdout).Encode(goLoadReport{Requests: r.requests, Errors: r.errors, P50: int64(r.p50), P99: int64(r.p99)})
}

// load sends requests from conns connections for dur and collects latencies.
func load(ctx context.Context, addr string, conns int, dur time.Duration) result {
	c := transport.NewClient(transport.ClientOptions{PoolSize: conns})
	defer c.Close()
	var hdr []component.TransportHeader
	for k, v := range requestHeaders {
		hdr = append(hdr, component.TransportHeader{Name: []byte(k), Value: []byte(v)})
	}
	body := []byte(requestBody)
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
				if err != nil || rep.Status != 200 || string(rep.Body) != wantReply {
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
	r := result{requests: len(lat), errors: errs, rps: float64(len(lat)) / dur.Seconds()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}
