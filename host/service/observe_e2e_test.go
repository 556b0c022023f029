package service_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/host/service"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/servicetest"
	"github.com/microhost/microhost/plugins/standard"
)

// span is one span the receiver got, with the service that sent it.
type span struct {
	service string
	*tracepb.Span
}

// otlpReceiver is an OTLP/HTTP trace receiver on 127.0.0.1: it decodes each protobuf
// export request and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []span
	srv   *httptest.Server
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &export); err != nil {
			t.Errorf("OTLP request is not an ExportTraceServiceRequest: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range export.GetResourceSpans() {
			svc := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					svc = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					r.spans = append(r.spans, span{service: svc, Span: sp})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) byTrace() map[string][]span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]span{}
	for _, s := range r.spans {
		id := hex.EncodeToString(s.GetTraceId())
		out[id] = append(out[id], s)
	}
	return out
}

func metricsOf(t *testing.T, adminAddr string) string {
	t.Helper()
	rsp, err := http.Get("http://" + adminAddr + "/metrics")
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestChainMetricsAndTrace runs the chain example's two services (api, whose Wasm handler
// calls greeter through the call import, and greeter), calls the api, and checks both
// services' metrics and the trace an OTLP receiver gets from them.
func TestChainMetricsAndTrace(t *testing.T) {
	ctx := context.Background()
	plugins := t.TempDir()
	for _, pkg := range []string{"./handlers/greeter", "./handlers/api"} {
		_, err := guestbuild.Go(ctx, pkg, plugins)
		require.NoError(t, err)
	}
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	rcv := newOTLPReceiver(t)
	tracing := []string{"[tracing]", `exporter = "otlp"`, `endpoint = "` + rcv.srv.URL + `"`}

	greeter := servicetest.Start(t, servicetest.Service{Name: "greeter", Version: "1.0.0", Module: "greeter", PluginDir: plugins,
		Registry: reg, RegistryDir: regDir, Extra: tracing, SynchronousSpans: true, Compilations: service.SharedCompilations})
	api := servicetest.Start(t, servicetest.Service{Name: "api", Version: "1.0.0", Module: "api", PluginDir: plugins,
		Registry: reg, RegistryDir: regDir, Extra: append([]string{`calls = ["greeter"]`}, tracing...), SynchronousSpans: true, Compilations: service.SharedCompilations})

	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	c := client.New(reg, client.Options{Codecs: codec.NativeRegistry(cat)})
	const calls = 3
	for range calls {
		reply, err := c.Call(ctx, &client.Request{Service: "api", Endpoint: "Api.Greet", Body: []byte(`{"name":"Ann"}`)})
		require.NoError(t, err)
		assert.JSONEq(t, `{"message":"Hello Ann","from":"greeter"}`, string(reply))
	}

	apiMetrics, greeterMetrics := metricsOf(t, api.AdminAddr()), metricsOf(t, greeter.AdminAddr())
	for _, want := range []string{
		`rpc_server_call_duration_seconds_count{code="200",method="Api.Greet",service="api"} 3`,
		`rpc_client_call_duration_seconds_count{code="200",method="Greeter.Hello",service="greeter"} 3`,
		`microhost_module_calls_total{kind="handler",module="api"} 3`,
		`microhost_module_errors_total{kind="handler",module="api"} 0`,
	} {
		assert.Contains(t, apiMetrics, want)
	}
	for _, want := range []string{
		`rpc_server_call_duration_seconds_count{code="200",method="Greeter.Hello",service="greeter"} 3`,
		`microhost_module_calls_total{kind="handler",module="greeter"} 3`,
	} {
		assert.Contains(t, greeterMetrics, want)
	}
	assert.NotContains(t, greeterMetrics, "rpc_client_call_duration_seconds_count", "the greeter calls no one")

	// Each call is one trace of five spans: api serves Api.Greet, runs its Wasm handler,
	// whose call import calls greeter, which serves Greeter.Hello and runs its handler.
	var traces map[string][]span
	require.Eventually(t, func() bool {
		traces = rcv.byTrace()
		if len(traces) != calls {
			return false
		}
		for _, spans := range traces {
			if len(spans) != 5 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "want %d traces of 5 spans", calls)
	for id, spans := range traces {
		find := func(service, name string, kind tracepb.Span_SpanKind) span {
			for _, s := range spans {
				if s.service == service && s.GetName() == name && s.GetKind() == kind {
					return s
				}
			}
			t.Fatalf("trace %s has no %s span %q of kind %v: %v", id, service, name, kind, spans)
			return span{}
		}
		apiServe := find("api", "Api.Greet", tracepb.Span_SPAN_KIND_SERVER)
		apiWasm := find("api", "wasm api", tracepb.Span_SPAN_KIND_INTERNAL)
		apiCall := find("api", "Greeter.Hello", tracepb.Span_SPAN_KIND_CLIENT)
		greeterServe := find("greeter", "Greeter.Hello", tracepb.Span_SPAN_KIND_SERVER)
		greeterWasm := find("greeter", "wasm greeter", tracepb.Span_SPAN_KIND_INTERNAL)
		assert.Empty(t, apiServe.GetParentSpanId(), "the api's span is the root")
		assert.Equal(t, apiServe.GetSpanId(), apiWasm.GetParentSpanId(), "the api's handler runs under its request")
		assert.Equal(t, apiWasm.GetSpanId(), apiCall.GetParentSpanId(), "the call from inside Wasm is the handler's child")
		assert.Equal(t, apiCall.GetSpanId(), greeterServe.GetParentSpanId(), "the greeter's request continues the api's call")
		assert.Equal(t, greeterServe.GetSpanId(), greeterWasm.GetParentSpanId())
	}
}

// TestPublicationTrace publishes from a handler through the publish import and checks that
// the delivery to a subscriber module continues the publisher's trace.
func TestPublicationTrace(t *testing.T) {
	ctx := context.Background()
	plugins := t.TempDir()
	for _, pkg := range []string{"./handlers/publisher", "./handlers/subscriber"} {
		_, err := guestbuild.Go(ctx, pkg, plugins)
		require.NoError(t, err)
	}
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	rcv := newOTLPReceiver(t)
	svc := servicetest.Start(t, servicetest.Service{Name: "events", Version: "1.0.0", Module: "publisher", PluginDir: plugins,
		Registry: reg, RegistryDir: regDir, SynchronousSpans: true, Compilations: service.SharedCompilations, Extra: []string{
			`publishes = ["events"]`,
			"[[subscriber]]", `topic = "events"`, `module = "subscriber"`,
			"[tracing]", `exporter = "otlp"`, `endpoint = "` + rcv.srv.URL + `"`,
		}})
	require.Eventually(t, func() bool { return len(svc.Subscriptions()) == 1 }, 10*time.Second, 10*time.Millisecond)

	cat, err := standard.Catalogue("")
	require.NoError(t, err)
	c := client.New(reg, client.Options{Codecs: codec.NativeRegistry(cat)})
	_, err = c.Call(ctx, &client.Request{Service: "events", Endpoint: "Events.Publish", Body: []byte(`{"topic":"events","message":{"n":1}}`)})
	require.NoError(t, err)

	var spans []span
	require.Eventually(t, func() bool {
		for _, s := range rcv.byTrace() {
			if len(s) == 5 {
				spans = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "want one trace of 5 spans")
	byName := map[string]span{}
	for _, s := range spans {
		byName[s.GetName()] = s
	}
	serve, wasm, publish := byName["Events.Publish"], byName["wasm publisher"], byName["publish events"]
	deliver, sub := byName["deliver events"], byName["wasm subscriber"]
	require.NotNil(t, deliver.Span, "spans: %v", spans)
	assert.Equal(t, serve.GetSpanId(), wasm.GetParentSpanId())
	assert.Equal(t, wasm.GetSpanId(), publish.GetParentSpanId(), "the publication is the handler's child")
	assert.Equal(t, tracepb.Span_SPAN_KIND_PRODUCER, publish.GetKind())
	assert.Equal(t, publish.GetSpanId(), deliver.GetParentSpanId(), "the delivery continues the publication")
	assert.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, deliver.GetKind())
	assert.Equal(t, deliver.GetSpanId(), sub.GetParentSpanId())
}
