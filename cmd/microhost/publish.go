package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/microhost/microhost/internal/broker"
)

func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reg registryFlags
	reg.add(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "bound on the whole publication (positive)")
	retryFor := fs.Duration("retry-for", broker.DefaultRetryFor, "how long a failed delivery is retried")
	contentType := fs.String("content-type", "application/json", "content type of the message body")
	metadata := pairsFlag{check: checkMetadata}
	fs.Var(&metadata, "metadata", "KEY=VALUE header sent with the message, which subscribers read; repeat for more")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost publish [flags] TOPIC [BODY]\n\n"+
			"Publishes BODY (default {}) to every subscriber of TOPIC, and to one subscriber of each\nqueue group.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError("want TOPIC [BODY], got %s", arguments(len(pos)))
	}
	if err := positiveTimeout(*timeout); err != nil {
		return err
	}
	body := []byte("{}")
	if len(pos) == 2 {
		body = []byte(pos[1])
	}
	if *contentType == "application/json" && !json.Valid(body) {
		return usageError("the body is not valid JSON: %s", body)
	}
	reg.resolve(getenv)
	r, err := reg.open()
	if err != nil {
		return err
	}
	proto, err := stockBroker()
	if err != nil {
		return err
	}
	b, err := broker.New(broker.Options{Registry: r, Protocol: proto, RetryFor: *retryFor})
	if err != nil {
		return err
	}
	defer b.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	header := map[string]string{"Content-Type": *contentType}
	for k, v := range metadata.pairs {
		header[k] = v
	}
	res, err := b.PublishResult(ctx, pos[0], &broker.Message{Header: header, Body: body})
	if err != nil {
		return err
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stderr, "not delivered to %s: %v\n", f.Node, f.Err)
	}
	n := len(res.Delivered)
	_, err = fmt.Fprintf(stdout, "published to %d subscriber%s\n", n, plural(n))
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
