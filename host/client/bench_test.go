package client_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/registrycache"
)

// BenchmarkCall is one greeter call end to end over loopback: by name (registry lookup through
// the registry cache or from the embedded registry's files, selection, mark) and by address through the pooled transport client, against the same call
// made with net/http's client, the client's transport before it had its own pool.
func BenchmarkCall(b *testing.B) {
	reg, regDir := registry(b)
	svc := serve(b, reg, regDir, "greeter", "1.0.0", "greeter")
	ctx := context.Background()
	req := &client.Request{Service: "greeter", Endpoint: "Greeter.Hello", Body: []byte(`{"name":"John"}`)}

	b.Run("by-name/registry-cache", func(b *testing.B) {
		cache := registrycache.New(reg, registrycache.Options{})
		defer cache.Close()
		c := newClient(b, cache, client.Options{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-name/registry-files", func(b *testing.B) {
		c := newClient(b, reg, client.Options{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("address/pooled", func(b *testing.B) {
		c := newClient(b, nil, client.Options{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.CallAddress(ctx, svc.Addr(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("address/net-http", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
		defer hc.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+svc.Addr()+"/", bytes.NewReader(req.Body))
			if err != nil {
				b.Fatal(err)
			}
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Micro-Service", req.Service)
			hr.Header.Set("Micro-Endpoint", req.Endpoint)
			hr.Header.Set("Micro-Method", req.Endpoint)
			hr.Header.Set("Micro-Id", "1")
			rsp, err := hc.Do(hr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(rsp.Body); err != nil || rsp.StatusCode != http.StatusOK {
				b.Fatal(err, rsp.StatusCode)
			}
			rsp.Body.Close()
			cancel()
		}
	})
}
