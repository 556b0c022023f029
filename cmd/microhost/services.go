package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func cmdServices(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("services", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reg registryFlags
	reg.add(fs)
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost services [flags] [NAME]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("want at most one service name, got %d", len(pos))
	}
	reg.resolve(getenv)
	r, err := reg.open()
	if err != nil {
		return err
	}
	names := pos
	if len(names) == 0 {
		if names, err = r.ListServices(ctx); err != nil {
			return err
		}
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tVERSION\tNODE\tADDRESS\tENDPOINTS")
	for _, name := range names {
		svcs, err := r.GetService(ctx, name)
		if err != nil {
			return err
		}
		for _, s := range svcs {
			eps := make([]string, len(s.Endpoints))
			for i, e := range s.Endpoints {
				eps[i] = e.Name
			}
			for _, n := range s.Nodes {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Version, n.ID, n.Address, strings.Join(eps, ","))
			}
		}
	}
	return w.Flush()
}
