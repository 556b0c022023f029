package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/microhost/microhost/host/client"
)

func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reg registryFlags
	reg.add(fs)
	address := fs.String("address", "", "call this host:port directly, bypassing the registry")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on the whole call")
	contentType := fs.String("content-type", "application/json", "content type of the request body")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost call [flags] SERVICE ENDPOINT [BODY]\n\nBODY defaults to {}.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usageError("want SERVICE ENDPOINT [BODY], got %d arguments", len(pos))
	}
	body := []byte("{}")
	if len(pos) == 3 {
		body = []byte(pos[2])
	}
	if *contentType == "application/json" && !json.Valid(body) {
		return usageError("the body is not valid JSON: %s", body)
	}
	req := &client.Request{Service: pos[0], Endpoint: pos[1], ContentType: *contentType, Body: body}
	var reply []byte
	if *address != "" {
		reply, err = client.New(nil, client.Options{Timeout: *timeout}).CallAddress(ctx, *address, req)
	} else {
		reg.resolve(getenv)
		r, oerr := reg.open()
		if oerr != nil {
			return oerr
		}
		reply, err = client.New(r, client.Options{Timeout: *timeout}).Call(ctx, req)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", reply)
	return err
}
