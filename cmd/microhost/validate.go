package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/microhost/microhost/host/service"
)

// cmdValidate loads a service's config and every module it names — each component chosen,
// loaded and checked as run would, every handler and subscriber — without listening or
// registering, and says whether the service would start.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serviceFlags
	f.add(fs)
	*f.logLevel = "warn"
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost validate [flags] CONFIG.toml\n\n"+
			"Checks the config and loads every module it names, as run does, without listening or\n"+
			"registering. Prints \"ok\", or each problem; the exit code is 1 when there is one.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one config file, got %s", arguments(len(pos)))
	}
	logger, err := newLogger(stderr, *f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := f.load(pos[0], getenv)
	if err != nil {
		return err
	}
	deps, err := f.deps(logger, getenv)
	if err != nil {
		return err
	}
	if err := service.Validate(ctx, cfg, deps); err != nil {
		problems := splitJoined(err)
		return fmt.Errorf("%s: %d problem(s):\n  %s", pos[0], len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(stdout, "%s: ok\n", pos[0])
	return nil
}

// splitJoined lists the errors errors.Join joined, one line each.
func splitJoined(err error) []string {
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}
