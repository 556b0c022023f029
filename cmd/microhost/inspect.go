package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/conformance"
	"github.com/microhost/microhost/internal/host"
)

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	endpoint := fs.String("call", "", "load the module and call this endpoint once, printing the reply")
	conform := fs.Bool("conform", false, "run the conformance checks of the module's kind (codec, selector, transport, broker, registry) and print each")
	body := fs.String("body", "{}", "request body for --call")
	contentType := fs.String("content-type", "application/json", "content type of the --call body")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on loading (and calling) the module (positive)")
	cacheDir := fs.String("cache-dir", "", `compilation cache folder, or "off" [$MICROHOST_CACHE_DIR]`)
	logLevel := fs.String("log-level", "info", "level of the host's and the module's log records, written to stderr")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost inspect [flags] FILE.wasm\n\n"+
			"Prints what a module declares (kind, name, version, ABI version, endpoints, the host\n"+
			"functions and WASI functions it imports, its memory limits, its size) and, when the\n"+
			"host would refuse it, why. With --call, calls one endpoint instead. With --conform,\n"+
			"runs its kind's conformance checks; the exit code is 1 when one fails.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one .wasm file, got %s", arguments(len(pos)))
	}
	if *endpoint == "" {
		for _, name := range []string{"body", "content-type"} {
			if isSet(fs, name) {
				return usageError("--%s is the request of --call: give --call ENDPOINT too", name)
			}
		}
	}
	if err := positiveTimeout(*timeout); err != nil {
		return err
	}
	if *cacheDir == "" {
		*cacheDir = getenv("MICROHOST_CACHE_DIR")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	logger, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	rt, err := host.NewRuntime(ctx, host.Options{CacheDir: *cacheDir, Logger: logger})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))

	if *conform {
		return conformOnce(ctx, rt, pos[0], stdout)
	}
	if *endpoint != "" {
		return callOnce(ctx, rt, pos[0], &host.Request{Endpoint: *endpoint, ContentType: *contentType, Body: []byte(*body)}, stdout)
	}
	info, err := rt.Inspect(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeInfoJSON(stdout, info); err != nil {
			return err
		}
	} else {
		writeInfo(stdout, info)
	}
	if info.Refused != nil {
		return fmt.Errorf("the host refuses this module: %w", info.Refused)
	}
	return nil
}

// conformOnce runs the conformance suite of the module's kind and prints one line a check.
func conformOnce(ctx context.Context, rt *host.Runtime, path string, stdout io.Writer) error {
	r, err := conformance.File(ctx, rt, path)
	if err != nil {
		return err
	}
	failed := 0
	for _, res := range r.Results {
		if res.Err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", res.Check, res.Err)
		} else {
			fmt.Fprintf(stdout, "ok    %s\n", res.Check)
		}
	}
	fmt.Fprintf(stdout, "%s %q: %d passed, %d failed\n", r.Kind, r.Name, len(r.Results)-failed, failed)
	if err := r.Err(); err != nil {
		return fmt.Errorf("%s %q does not conform: %d of %d checks failed", r.Kind, r.Name, failed, len(r.Results))
	}
	return nil
}

// callOnce loads the module at path, as `microhost run` would, and prints one call's reply.
func callOnce(ctx context.Context, rt *host.Runtime, path string, req *host.Request, stdout io.Writer) error {
	m, err := rt.Load(ctx, path, host.ModuleOptions{PoolSize: 1, InterruptOnDeadline: true})
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))
	rsp, err := m.Call(ctx, req)
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) && ae.ID == "" {
			ae.ID = m.Descriptor().Name
			ae.Status = abi.StatusText(ae.Code)
		}
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", rsp.Body)
	return err
}

func writeInfo(w io.Writer, info *host.Info) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("file", "%s (%s bytes)", info.Path, thousands(info.Size))
	if !info.Compiled {
		row("status", "refused: %v", info.Refused)
		return
	}
	if d := info.Descriptor; d != nil {
		row("kind", "%s", d.Kind)
		row("name", "%s", d.Name)
		row("version", "%s", orNone(d.Version))
	}
	if info.ABIVersion > 0 {
		row("abi version", "%d", info.ABIVersion)
	} else {
		row("abi version", "none (no %sN export)", abi.MarkerPrefix)
	}
	if d := info.Descriptor; d != nil {
		if len(d.Endpoints) == 0 {
			row("endpoints", "none")
		}
		for i, e := range d.Endpoints {
			k := ""
			if i == 0 {
				k = "endpoints"
			}
			types := ""
			if e.Request != "" || e.Response != "" {
				types = fmt.Sprintf(" (%s -> %s)", orNone(e.Request), orNone(e.Response))
			}
			row(k, "%s%s", e.Name, types)
		}
	}
	var caps, wasi, other []string
	for _, im := range info.Imports {
		switch im.Module {
		case abi.ImportModule:
			caps = append(caps, im.Name)
		case "wasi_snapshot_preview1":
			wasi = append(wasi, im.Name)
		default:
			other = append(other, im.Module+"."+im.Name)
		}
	}
	slices.Sort(caps)
	slices.Sort(wasi)
	row("host imports", "%s", list(caps))
	row("wasi imports", "%s", list(wasi))
	if len(other) > 0 {
		row("other imports", "%s", list(other))
	}
	if m := info.Memory; m != nil {
		limit := fmt.Sprintf("no maximum declared (the host caps it: %d pages by default)", host.DefaultMemoryLimitPages)
		if m.HasMax {
			limit = fmt.Sprintf("maximum %s (%s)", pages(m.MaxPages), pagesSize(m.MaxPages))
		}
		row("memory", "initial %s (%s), %s", pages(m.MinPages), pagesSize(m.MinPages), limit)
	} else {
		row("memory", "none exported")
	}
	if info.Refused != nil {
		row("status", "refused: %v", info.Refused)
	} else {
		row("status", "loads")
	}
}

// infoJSON is the --json form of host.Info.
type infoJSON struct {
	Path       string          `json:"path"`
	Size       int64           `json:"size"`
	ABIVersion int             `json:"abi_version"`
	Descriptor *abi.Descriptor `json:"descriptor,omitempty"`
	Imports    []importJSON    `json:"imports"`
	Exports    []string        `json:"exports"`
	Memory     *memoryJSON     `json:"memory,omitempty"`
	Refused    string          `json:"refused,omitempty"`
}

type importJSON struct {
	Module    string `json:"module"`
	Name      string `json:"name"`
	Signature string `json:"signature"`
}

type memoryJSON struct {
	MinPages uint32  `json:"min_pages"`
	MaxPages *uint32 `json:"max_pages,omitempty"`
}

func writeInfoJSON(w io.Writer, info *host.Info) error {
	out := infoJSON{Path: info.Path, Size: info.Size, ABIVersion: info.ABIVersion, Descriptor: info.Descriptor,
		Imports: []importJSON{}, Exports: info.Exports}
	if out.Exports == nil {
		out.Exports = []string{}
	}
	for _, im := range info.Imports {
		out.Imports = append(out.Imports, importJSON(im))
	}
	if m := info.Memory; m != nil {
		out.Memory = &memoryJSON{MinPages: m.MinPages}
		if m.HasMax {
			out.Memory.MaxPages = &m.MaxPages
		}
	}
	if info.Refused != nil {
		out.Refused = info.Refused.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pages(n uint32) string {
	if n == 1 {
		return "1 page"
	}
	return fmt.Sprintf("%d pages", n)
}

func pagesSize(pages uint32) string {
	b := uint64(pages) << 16
	if b >= 1<<20 && b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
