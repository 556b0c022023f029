package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/registrycache"
	"github.com/microhost/microhost/internal/selector"
)

func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reg registryFlags
	reg.add(fs)
	address := fs.String("address", "", "call this host:port directly, bypassing the registry")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on the whole call (positive)")
	contentType := fs.String("content-type", "application/json", "wire content type: application/json, application/json-rpc, application/protobuf, application/proto-rpc or application/octet-stream")
	bodyFile := fs.String("body-file", "", "read the request body from this file (- for stdin); binary bodies must come this way")
	retries := fs.Int("retries", client.DefaultRetries, "retries on another node after a transport failure (never after a handler's error)")
	version := fs.String("version", "", "call only nodes of this service version")
	strategy := fs.String("strategy", selector.StrategyRandom, "node selection: random or roundrobin")
	var sel selectorFlags
	sel.add(fs)
	metadata := pairsFlag{check: checkMetadata}
	fs.Var(&metadata, "metadata", "KEY=VALUE metadata sent as a request header, which the handler reads; repeat for more")
	labels := pairsFlag{}
	fs.Var(&labels, "label", "KEY=VALUE: call only nodes whose metadata has this label; repeat for more")
	stream := fs.Bool("stream", false, "open a stream and print each message the service sends on its own line; with BODY -, send each JSON line of stdin as a message (bidirectional). --timeout bounds the whole stream")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost call [flags] SERVICE ENDPOINT [BODY]\n\n"+
			"BODY is the bare request: JSON for application/json and application/json-rpc (which\n"+
			"wraps it in the JSON-RPC envelope), defaulting to {}. Protobuf bodies (application/protobuf,\n"+
			"application/proto-rpc, application/octet-stream) are read with --body-file and default to\n"+
			"the empty message; their reply is written to stdout as raw bytes.\n\n"+
			"With --stream, BODY is the stream's first message and every message the service sends\n"+
			"is printed on a line of its own; BODY - sends each JSON line of stdin instead, closing\n"+
			"the sending side at the end of stdin. Streams speak application/json.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usageError("want SERVICE ENDPOINT [BODY], got %s", arguments(len(pos)))
	}
	if err := positiveTimeout(*timeout); err != nil {
		return err
	}
	// With --stream, BODY - means the messages come from stdin, one JSON line each.
	bidi := *stream && len(pos) == 3 && pos[2] == "-"
	if bidi {
		pos = pos[:2]
		if *bodyFile != "" {
			return usageError("give BODY - or --body-file, not both")
		}
	}
	if *stream && codec.MediaType(*contentType) != "application/json" {
		return usageError("--stream prints JSON lines: it needs --content-type application/json")
	}
	ct := codec.MediaType(*contentType)
	jsonBody := ct == "application/json" || ct == "application/json-rpc"
	binary := ct == "application/protobuf" || ct == "application/proto-rpc" || ct == "application/octet-stream"
	var body []byte
	switch {
	case len(pos) == 3 && *bodyFile != "":
		return usageError("give BODY or --body-file, not both")
	case len(pos) == 3 && binary:
		return usageError("a %s body is binary: pass it with --body-file FILE (or - for stdin)", ct)
	case len(pos) == 3:
		body = []byte(pos[2])
	case *bodyFile == "-":
		if body, err = io.ReadAll(os.Stdin); err != nil {
			return fmt.Errorf("read the body from stdin: %w", err)
		}
	case *bodyFile != "":
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return fmt.Errorf("read the body: %w", err)
		}
	case jsonBody:
		body = []byte("{}")
	}
	if jsonBody && !json.Valid(body) {
		return usageError("the body is not valid JSON: %s", body)
	}
	if *retries < 0 {
		return usageError("--retries must not be negative")
	}
	if _, err := selector.ParseStrategy(*strategy); err != nil {
		return usageError("--strategy: %v", err)
	}
	if err := sel.resolve(getenv); err != nil {
		return err
	}
	opts := []client.CallOption{client.WithRetries(*retries), client.WithVersion(*version), client.WithLabels(labels.pairs)}
	req := &client.Request{Service: pos[0], Endpoint: pos[1], ContentType: *contentType, Metadata: metadata.pairs, Body: body}
	cat, err := stockCatalogue()
	if err != nil {
		return err
	}
	codecs := codec.NativeRegistry(cat)
	var reply []byte
	if *address != "" {
		c := client.New(nil, client.Options{Timeout: *timeout, Codecs: codecs})
		defer c.Close()
		if *stream {
			return callStream(func(body []byte) (*client.Stream, error) {
				req.Body = body
				return c.StreamAddress(ctx, *address, req)
			}, body, bidi, os.Stdin, stdout)
		}
		reply, err = c.CallAddress(ctx, *address, req)
	} else {
		reg.resolve(getenv)
		r, oerr := reg.open()
		if oerr != nil {
			return oerr
		}
		defer r.Close(context.WithoutCancel(ctx))
		// Lookups go through the registry cache, as a service's own calls do.
		cache := registrycache.New(r, registrycache.Options{})
		defer cache.Close()
		s, loader, serr := sel.open(ctx, *strategy, getenv)
		if serr != nil {
			return serr
		}
		defer closeSelector(ctx, s, loader)
		c := client.New(cache, client.Options{Timeout: *timeout, Selector: s, Codecs: codecs})
		defer c.Close()
		if *stream {
			return callStream(func(body []byte) (*client.Stream, error) {
				req.Body = body
				return c.Stream(ctx, req, opts...)
			}, body, bidi, os.Stdin, stdout)
		}
		reply, err = c.Call(ctx, req, opts...)
	}
	if err != nil {
		return err
	}
	if binary {
		_, err = stdout.Write(reply)
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", reply)
	return err
}
