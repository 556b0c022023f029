package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/microhost/microhost/host/config"
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
	path, cfg, deps, err := f.parse(fs, args, stderr, getenv)
	if err != nil {
		return err
	}
	if err := service.Validate(ctx, cfg, deps); err != nil {
		problems := splitJoined(err)
		return fmt.Errorf("%s: %d problem(s):\n  %s", path, len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	writeGrants(stdout, cfg)
	return nil
}

// writeGrants lists what each handler and subscriber module may do beyond answering its own
// requests: the services it may call, the topics it may publish to and the credentials its
// calls may forward. Everything not listed is denied.
func writeGrants(w io.Writer, cfg *config.Config) {
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	}
	fmt.Fprintln(w, "grants (anything not listed is denied):")
	for i, h := range cfg.Handlers {
		fmt.Fprintf(w, "  handler[%d] %s: calls %s; publishes %s; forwards %s\n", i, moduleLabel(h.Module, h.Path),
			list(h.Calls), list(h.Publishes), list(h.ForwardMetadata))
	}
	for i, s := range cfg.Subscribers {
		fmt.Fprintf(w, "  subscriber[%d] %s (topic %s): publishes %s\n", i, moduleLabel(s.Module, s.Path), s.Topic, list(s.Publishes))
	}
}

// moduleLabel names a module by its name, or by its file when the config gives a path.
func moduleLabel(module, path string) string {
	if module != "" {
		return module
	}
	return path
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
