// Command loadtest measures the greeter end to end over loopback and prints, in one run, every
// figure the performance page compares:
//
//   - throughput and latency of the same greeter served several ways — a plain net/http
//     handler doing the JSON work natively (the practical limit), Go Micro v2.9.1's greeter,
//     and microhost with the native twins and with every component in Wasm, with the Go and
//     the C greeter — each server in a process of its own, loaded by a load generator in
//     another (wrk when it is on PATH, else this command's own generator), with the ratio of
//     each to the plain handler of the same run;
//   - start-up: from exec to the first request served, and the resident memory then, for
//     `make run`'s configuration and for the native twins with the C greeter (warm
//     compilation cache, median of three starts);
//   - one-shot CLI commands: `microhost call` and `microhost services`, median of five.
//
// It needs `make build` (bin/microhost, bin/plugins) and Go for the Go Micro peer, which is
// built from the interop module.
//
//	go run ./internal/loadtest -c 32 -d 5s
//
// Two subcommands are the processes it starts: `loadtest plain` serves the plain handler and
// `loadtest load ADDRESS` is the Go load generator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "plain":
			if err := servePlain(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "loadtest plain:", err)
				os.Exit(1)
			}
			return
		case "load":
			if err := loadCommand(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "loadtest load:", err)
				os.Exit(1)
			}
			return
		}
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/microhost", "the microhost binary (make build)")
	flag.StringVar(&o.plugins, "plugins", "bin/plugins", "the plugin folder (make build)")
	flag.IntVar(&o.conns, "c", 32, "concurrent connections")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "load time per server")
	flag.StringVar(&o.gen, "gen", "auto", "load generator: wrk, go, or auto (wrk when on PATH)")
	flag.StringVar(&o.only, "only", "", "run only the servers whose name contains this")
	flag.BoolVar(&o.noGoMicro, "no-gomicro", false, "skip the Go Micro peer (it is built from the interop module)")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the orchestrator's flags.
type options struct {
	bin, plugins string
	conns        int
	dur          time.Duration
	gen          string
	only         string
	noGoMicro    bool
}

// row is one server of the throughput table.
type row struct {
	name string
	// start starts the server and returns its address and a stop function.
	start func(ctx context.Context) (*proc, error)
}

func run(ctx context.Context, o options) error {
	var err error
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if o.plugins, err = filepath.Abs(o.plugins); err != nil {
		return err
	}
	for _, f := range []string{o.bin, filepath.Join(o.plugins, "greeter.wasm")} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run make build first)", err)
		}
	}
	gen, err := chooseGenerator(o.gen)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "microhost-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	rows := []row{{"plain net/http greeter", func(ctx context.Context) (*proc, error) {
		return startListening(ctx, "plain", exec.Command(self, "plain"))
	}}}
	if !o.noGoMicro {
		rows = append(rows, row{"Go Micro v2.9.1 greeter", func(ctx context.Context) (*proc, error) {
			bin, err := buildGoMicro(ctx, work)
			if err != nil {
				return nil, err
			}
			return startListening(ctx, "gomicro", exec.Command(bin, "-address", "127.0.0.1:0"))
		}})
	}
	for _, v := range microhostRows {
		if _, err := os.Stat(filepath.Join(o.plugins, v.handler+".wasm")); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: skipping %q: %v\n", v.name, err)
			continue
		}
		rows = append(rows, row{v.name, func(ctx context.Context) (*proc, error) {
			return startMicrohost(ctx, o, work, v)
		}})
	}

	var results []result
	for _, r := range rows {
		if o.only != "" && !strings.Contains(r.name, o.only) && len(results) > 0 {
			continue
		}
		p, err := r.start(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		res, err := gen.load(ctx, p.addr, o.conns, o.dur)
		p.stop()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		res.name = r.name
		results = append(results, res)
	}
	fmt.Printf("greeter over loopback: %s, %d connections, %s per server, each server in its own process\n\n", gen.name, o.conns, o.dur)
	fmt.Printf("%-38s %10s %10s %10s %8s %8s\n", "server", "req/s", "p50", "p99", "errors", "ratio")
	for _, r := range results {
		fmt.Printf("%-38s %10.0f %10s %10s %8d %7.2fx\n", r.name, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.errors, r.rps/results[0].rps)
	}

	fmt.Printf("\nstart-up: exec to first request served (warm compilation cache, median of 3)\n\n")
	fmt.Printf("%-50s %10s %10s\n", "configuration", "time", "RSS")
	var greeter *proc
	for _, s := range startupRows {
		if o.only != "" && !strings.Contains(s.name, o.only) {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.plugins, s.handler+".wasm")); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: skipping %q: %v\n", s.name, err)
			continue
		}
		took, rss, p, err := measureStartup(ctx, o, work, s)
		if err != nil {
			return fmt.Errorf("start-up, %s: %w", s.name, err)
		}
		fmt.Printf("%-50s %10s %8.1f MB\n", s.name, fmtDur(took), float64(rss)/1e6)
		if greeter == nil {
			greeter = p // kept for the CLI figures
		} else {
			p.stop()
		}
	}
	if greeter == nil {
		return nil
	}
	defer greeter.stop()
	fmt.Printf("\none-shot CLI commands against the running greeter (median of 5)\n\n")
	for _, args := range [][]string{
		{"call", "greeter", "Greeter.Hello", `{"name":"John"}`},
		{"services"},
	} {
		took, err := measureCLI(ctx, o.bin, greeter.env, args)
		if err != nil {
			return fmt.Errorf("microhost %s: %w", args[0], err)
		}
		fmt.Printf("%-56s %10s\n", "microhost "+strings.Join(args, " "), fmtDur(took))
	}
	for _, r := range results {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d requests failed", r.name, r.errors)
		}
	}
	return nil
}

// fmtDur prints d with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// errNotReady is returned when a server did not come up in time.
var errNotReady = errors.New("not serving within 60 s")
