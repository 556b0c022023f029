// Command microhost runs services whose components and handlers are WebAssembly modules, and
// calls them.
//
//	microhost run [flags] config.toml
//	microhost call [flags] SERVICE ENDPOINT [JSON]
//	microhost services [flags] [NAME]
//	microhost publish [flags] TOPIC [JSON]
//	microhost new handler NAME [--lang go|c|assemblyscript|wat|rust] [--dir DIR] [--sdk PATH]
//	microhost inspect [flags] FILE.wasm
//	microhost validate [flags] CONFIG.toml
//	microhost reload PID-FILE|PID
//	microhost dev [flags] [DIR]
//
// Run `microhost help` for the flags of each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	// The first SIGINT or SIGTERM starts a graceful stop (run drains for [server]
	// drain_timeout); a second one exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		cancel()
		<-sig
		fmt.Fprintln(os.Stderr, "microhost: second signal: exiting without waiting for the drain")
		os.Exit(1)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	cancel()
	os.Exit(code)
}

// env reads environment variables; tests pass their own.
type env func(string) string

const usage = `microhost runs services whose components and handlers are WebAssembly modules.

Usage:
  microhost run [flags] CONFIG.toml          serve the service the config describes
  microhost call [flags] SERVICE ENDPOINT [JSON]
                                             call an endpoint and print the reply
  microhost services [flags] [NAME]          list registered services; with NAME, show that one in
                                             detail: metadata, endpoints, each node's labels
  microhost publish [flags] TOPIC [JSON]     publish a message to a topic's subscribers
  microhost new handler NAME [--lang go|c|assemblyscript|wat|rust] [--dir DIR] [--sdk PATH]
                                             write a handler project that builds with make
                                             (against the SDKs this binary carries unless
                                             --sdk or $MICROHOST_SDK names a checkout)
  microhost inspect [flags] FILE.wasm        show what a module declares, or why it is refused;
                                             --conform runs its kind's conformance checks
  microhost validate [flags] CONFIG.toml     load the config and every module it names, serve nothing
  microhost reload PID-FILE|PID              make a running service swap in its changed module files
  microhost dev [flags] [DIR]                build a handler project with make, serve it, rebuild
                                             and swap it live on every save
  microhost version                          show the versions of microhost, Go, wazero and the ABI
  microhost help                             show this text

Run "microhost COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stderr, getenv)
	case "call":
		err = cmdCall(ctx, args[1:], stdout, stderr, getenv)
	case "services":
		err = cmdServices(ctx, args[1:], stdout, stderr, getenv)
	case "publish":
		err = cmdPublish(ctx, args[1:], stdout, stderr, getenv)
	case "new":
		err = cmdNew(args[1:], stdout, stderr, getenv)
	case "inspect":
		err = cmdInspect(ctx, args[1:], stdout, stderr, getenv)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout, stderr, getenv)
	case "dev":
		err = cmdDev(ctx, args[1:], stderr, getenv)
	case "reload":
		err = cmdReload(args[1:], stderr)
	case "version", "--version":
		err = cmdVersion(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "microhost: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "microhost %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "microhost %s: %v\n", args[0], err)
		return 1
	}
}

var errUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parseInterspersed parses flags that may come before, between or after the positional
// arguments, and returns the positional ones. A flag it cannot parse is a usage error,
// reported once with a hint to -h rather than followed by the whole usage; -h prints the
// usage.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				if usage != nil {
					usage()
				} else {
					fs.PrintDefaults()
				}
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w (run `microhost %s -h` for the flags)", errUsage, err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// arguments is "1 argument" or "N arguments".
func arguments(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

// positiveTimeout refuses a --timeout that is zero or negative, which would bound nothing
// or fail every call at once.
func positiveTimeout(d time.Duration) error {
	if d <= 0 {
		return usageError("--timeout %s: must be positive, such as 5s or 1m", d)
	}
	return nil
}

// newLogger returns the log of a command: records of level and above, written to w as text
// (key=value) or, with format "json", one JSON object per line.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("bad --log-level %q (debug, info, warn, error)", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageError("bad --log-format %q (text, json)", format)
	}
}
