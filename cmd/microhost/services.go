package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/microhost/microhost/abi"
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
		return usageError("want at most one service name, got %s", arguments(len(pos)))
	}
	reg.resolve(getenv)
	r, err := reg.open()
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		svcs, err := r.GetService(ctx, pos[0])
		if err != nil {
			return err
		}
		if len(svcs) == 0 {
			return fmt.Errorf("no service %q is registered", pos[0])
		}
		for _, s := range svcs {
			printService(stdout, s)
		}
		return nil
	}
	names, err := r.ListServices(ctx)
	if err != nil {
		return err
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

// printService writes one registration in detail: the service's metadata, its endpoints with
// their message types, and each node with its address and labels (the metadata a call's
// --label selects on).
func printService(w io.Writer, s *abi.Service) {
	fmt.Fprintf(w, "%s %s\n", s.Name, s.Version)
	fmt.Fprintf(w, "  metadata   %s\n", labels(s.Metadata))
	for _, e := range s.Endpoints {
		types := ""
		if e.Request != "" || e.Response != "" {
			types = fmt.Sprintf(" (%s -> %s)", e.Request, e.Response)
		}
		fmt.Fprintf(w, "  endpoint   %s%s\n", e.Name, types)
	}
	for _, n := range s.Nodes {
		fmt.Fprintf(w, "  node       %s  %s\n", n.ID, n.Address)
		fmt.Fprintf(w, "    labels   %s\n", labels(n.Metadata))
	}
}

// labels formats md as sorted key=value pairs, or "-" when empty.
func labels(md map[string]string) string {
	if len(md) == 0 {
		return "-"
	}
	pairs := make([]string, 0, len(md))
	for _, k := range slices.Sorted(maps.Keys(md)) {
		pairs = append(pairs, k+"="+md[k])
	}
	return strings.Join(pairs, " ")
}
