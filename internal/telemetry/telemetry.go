// Package telemetry is what a service reports about itself: Prometheus metrics on a registry
// of the service's own (never the process-wide default one) and OpenTelemetry traces, with
// W3C trace context carried in the Go Micro metadata headers.
//
// The core (server, client, host runtime, service) holds a *Telemetry and calls its methods
// on the request path; every method is a no-op on a nil *Telemetry, and the metrics and the
// tracing parts are each checked with one nil test, so a service with both off pays nothing
// beyond those tests. This package is the only one that imports client_golang and the
// OpenTelemetry SDK.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Exporters of traces, as [tracing] exporter names them.
const (
	ExporterOff    = "off"
	ExporterOTLP   = "otlp"
	ExporterStdout = "stdout"
)

// Options configure a Telemetry.
type Options struct {
	// Service is the service's name: the service label of its server metrics and the
	// service.name of its traces.
	Service string
	// Version is the service's version, put on its traces.
	Version string
	// Metrics turns the Prometheus metrics on.
	Metrics bool
	// Exporter chooses where spans go: ExporterOTLP (OTLP over HTTP to Endpoint),
	// ExporterStdout (JSON lines to Stdout), or "" / ExporterOff for no tracing.
	Exporter string
	// Endpoint is the OTLP/HTTP collector's base URL, such as http://127.0.0.1:4318; the
	// spans are POSTed to its /v1/traces.
	Endpoint string
	// Stdout receives the stdout exporter's spans; nil means os.Stdout.
	Stdout io.Writer
	// Synchronous exports each span as it ends instead of in batches, for tests and
	// debugging.
	Synchronous bool
	// Logger receives the exporter's failures; nil discards them.
	Logger *slog.Logger
}

// Telemetry is one service's metrics and tracer. A nil *Telemetry does nothing.
type Telemetry struct {
	service string
	logger  *slog.Logger
	// reg is the service's own registry; m is nil when metrics are off.
	reg *prometheus.Registry
	m   *metrics
	// tracer is nil when tracing is off; tp is its provider, flushed and shut at Close.
	tracer trace.Tracer
	tp     *sdktrace.TracerProvider
	prop   propagation.TraceContext

	modules moduleSet
	events  eventLog
	// clientLabels bounds the client metric's (service, method) pairs.
	clientLabels labelSet
	// broker reads the broker's counters, nil without a broker.
	broker atomic.Pointer[func() BrokerCounts]
}

// New returns the telemetry opts describe: metrics, tracing, both or neither (a Telemetry
// that still lists modules and events, for the admin page).
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	t := &Telemetry{service: opts.Service, logger: opts.Logger, reg: prometheus.NewRegistry()}
	if t.logger == nil {
		t.logger = slog.New(slog.DiscardHandler)
	}
	t.modules.byKey = map[string]*Module{}
	t.clientLabels = labelSet{limit: maxClientLabels, seen: map[[2]string]bool{}}
	if opts.Metrics {
		t.m = newMetrics(t)
	}
	if err := t.startTracing(ctx, opts); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) startTracing(ctx context.Context, opts Options) error {
	var exp sdktrace.SpanExporter
	var err error
	switch opts.Exporter {
	case "", ExporterOff:
		return nil
	case ExporterOTLP:
		if opts.Endpoint == "" {
			return fmt.Errorf("tracing: exporter %q needs an endpoint", opts.Exporter)
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(opts.Endpoint+"/v1/traces"))
	case ExporterStdout:
		w := opts.Stdout
		if w == nil {
			w = os.Stdout
		}
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	default:
		return fmt.Errorf("tracing: unknown exporter %q (want off, otlp or stdout)", opts.Exporter)
	}
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", opts.Service), attribute.String("service.version", opts.Version))
	process := sdktrace.WithBatcher(exp)
	if opts.Synchronous {
		process = sdktrace.WithSyncer(exp)
	}
	t.tp = sdktrace.NewTracerProvider(process, sdktrace.WithResource(res))
	t.tracer = t.tp.Tracer("github.com/microhost/microhost")
	return nil
}

// closeTimeout bounds the flush of the last spans at Close, so that a collector that is
// down delays a service's stop by this much at most.
const closeTimeout = 5 * time.Second

// Close flushes the spans not yet exported, within a few seconds, and stops the exporter.
func (t *Telemetry) Close(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	return nil
}

// Metrics reports whether the metrics are on.
func (t *Telemetry) Metrics() bool { return t != nil && t.m != nil }

// Tracing reports whether spans are recorded.
func (t *Telemetry) Tracing() bool { return t != nil && t.tracer != nil }

// Handler serves the metrics in Prometheus' text (or OpenMetrics) format.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Register adds a collector to the service's registry, for metrics of the service's own
// parts (its broker's counters).
func (t *Telemetry) Register(c prometheus.Collector) error {
	if t == nil || t.m == nil {
		return nil
	}
	if err := t.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// metrics are the collectors of the service's registry.
type metrics struct {
	server, client *prometheus.HistogramVec
	moduleCall     *prometheus.HistogramVec
	instantiation  *prometheus.HistogramVec
	swaps          *prometheus.CounterVec
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	registrations  prometheus.Counter
	regFailures    prometheus.Counter
	lookup         prometheus.Histogram
}

// Buckets of the duration histograms, in seconds: 50 µs to 10 s.
var durationBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(t *Telemetry) *metrics {
	m := &metrics{
		server: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpc_server_call_duration_seconds", Help: "Time to serve a request, from its framing to its reply, by service, method (endpoint; \"other\" for one the service does not serve) and Go Micro status code.",
			Buckets: durationBuckets,
		}, []string{"service", "method", "code"}),
		client: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpc_client_call_duration_seconds", Help: "Time of a call this service made, retries included, by called service, method and Go Micro status code.",
			Buckets: durationBuckets,
		}, []string{"service", "method", "code"}),
		moduleCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "microhost_module_call_duration_seconds", Help: "Time inside a module's call, waiting for an instance included, by module kind and name.",
			Buckets: durationBuckets,
		}, []string{"kind", "module"}),
		instantiation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "microhost_module_instantiation_seconds", Help: "Time to start one instance of a module, by module kind and name.",
			Buckets: durationBuckets,
		}, []string{"kind", "module"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "microhost_module_swaps_total", Help: "Live swaps of a module, by module kind, name and result (swapped or refused).",
		}, []string{"kind", "module", "result"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "microhost_module_compile_cache_hits_total", Help: "Module loads whose compiled code came from the compilation cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "microhost_module_compile_cache_misses_total", Help: "Module loads that compiled the module.",
		}),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "microhost_registry_registrations_total", Help: "Registrations (and refreshes) of the service that the registry accepted.",
		}),
		regFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "microhost_registry_registration_failures_total", Help: "Registrations (and refreshes) of the service that failed.",
		}),
		lookup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "microhost_registry_lookup_duration_seconds", Help: "Time to look a called service up (the registry cache, or the registry on a miss).",
			Buckets: durationBuckets,
		}),
	}
	t.reg.MustRegister(m.server, m.client, m.moduleCall, m.instantiation, m.swaps, m.cacheHits, m.cacheMisses,
		m.registrations, m.regFailures, m.lookup, moduleCollector{t: t},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// codeLabel is a status code as a label: Go Micro codes are HTTP statuses, anything else is
// "other", so a handler cannot invent label values.
func codeLabel(code int32) string {
	if code < 100 || code > 599 {
		return Other
	}
	return strconv.Itoa(int(code))
}

// Other is the label value that stands for every value outside the bounded set: an
// endpoint the service does not serve, a code that is no HTTP status, a called service past
// the client's label limit.
const Other = "other"

// maxClientLabels bounds the distinct (service, method) pairs of the client metric; calls
// past it are counted under (other, other).
const maxClientLabels = 256

// labelSet admits label pairs up to a limit.
type labelSet struct {
	mu    sync.Mutex
	limit int
	seen  map[[2]string]bool
}

func (l *labelSet) admit(a, b string) (string, string) {
	k := [2]string{a, b}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[k] {
		return a, b
	}
	if len(l.seen) >= l.limit {
		return Other, Other
	}
	l.seen[k] = true
	return a, b
}

// Serve is one request being served, from StartServe to End.
type Serve struct {
	t     *Telemetry
	start time.Time
	span  trace.Span
}

// StartServe starts observing a request served: its span, a child of the caller's when the
// request's header (get) carries a W3C traceparent, goes into the returned context.
func (t *Telemetry) StartServe(ctx context.Context, get func(string) string) (context.Context, Serve) {
	if t == nil {
		return ctx, Serve{}
	}
	s := Serve{t: t}
	if t.m != nil {
		s.start = time.Now()
	}
	if t.tracer != nil {
		ctx = t.prop.Extract(ctx, getter(get))
		ctx, s.span = t.tracer.Start(ctx, "serve", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("rpc.system", "go-micro"), attribute.String("rpc.service", t.service)))
	}
	return ctx, s
}

// End records the request: method is the endpoint when the service serves it, else Other;
// code is the Go Micro status code of the reply.
func (s Serve) End(method string, code int32) {
	if s.t == nil {
		return
	}
	if s.t.m != nil {
		s.t.m.server.WithLabelValues(s.t.service, method, codeLabel(code)).Observe(time.Since(s.start).Seconds())
	}
	if s.span != nil {
		s.span.SetName(method)
		endSpan(s.span, method, code)
	}
}

func endSpan(span trace.Span, method string, code int32) {
	span.SetAttributes(attribute.String("rpc.method", method), attribute.Int("rpc.micro.status_code", int(code)))
	if code >= 500 || code < 100 {
		span.SetStatus(codes.Error, strconv.Itoa(int(code)))
	}
	span.End()
}

// getter reads header fields for the propagator.
type getter func(string) string

func (g getter) Get(key string) string { return g(key) }
func (g getter) Set(string, string)    {}
func (g getter) Keys() []string        { return nil }

// Call is one call this service makes, from StartCall to End.
type Call struct {
	t        *Telemetry
	start    time.Time
	span     trace.Span
	service  string
	endpoint string
}

// StartCall starts observing a call to endpoint of service; its span goes into the returned
// context, from which Inject writes the traceparent the call carries.
func (t *Telemetry) StartCall(ctx context.Context, service, endpoint string) (context.Context, Call) {
	if t == nil {
		return ctx, Call{}
	}
	c := Call{t: t, service: service, endpoint: endpoint}
	if t.m != nil {
		c.start = time.Now()
	}
	if t.tracer != nil {
		ctx, c.span = t.tracer.Start(ctx, endpoint, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("rpc.system", "go-micro"), attribute.String("rpc.service", service)))
	}
	return ctx, c
}

// End records the call with the Go Micro status code of its outcome.
func (c Call) End(code int32) {
	if c.t == nil {
		return
	}
	if c.t.m != nil {
		svc, method := c.t.clientLabels.admit(c.service, c.endpoint)
		c.t.m.client.WithLabelValues(svc, method, codeLabel(code)).Observe(time.Since(c.start).Seconds())
	}
	if c.span != nil {
		endSpan(c.span, c.endpoint, code)
	}
}

// Trace context headers (W3C), which travel as Go Micro metadata.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Inject writes the trace context of ctx's span as header fields through set, and reports
// whether it did: a context without a recording span writes nothing, so that a service with
// tracing off passes on the traceparent it received.
func Inject(ctx context.Context, set func(key, value string)) bool {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return false
	}
	propagation.TraceContext{}.Inject(ctx, setter(set))
	return true
}

// IsTraceHeader reports whether a metadata key is one of the trace context's.
func IsTraceHeader(key string) bool {
	return strings.EqualFold(key, HeaderTraceparent) || strings.EqualFold(key, HeaderTracestate)
}

type setter func(string, string)

func (s setter) Get(string) string     { return "" }
func (s setter) Set(key, value string) { s(key, value) }
func (s setter) Keys() []string        { return nil }

// Span starts an internal span named name under ctx's, for a step worth seeing in a trace
// (a publication); end it with the returned function.
func (t *Telemetry) Span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(err error)) {
	if t == nil || t.tracer == nil {
		return ctx, func(error) {}
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// Registered counts a registration of the service, failed when err is not nil.
func (t *Telemetry) Registered(err error) {
	if t == nil || t.m == nil {
		return
	}
	if err != nil {
		t.m.regFailures.Inc()
		return
	}
	t.m.registrations.Inc()
}

// LookedUp records the time a registry look-up took.
func (t *Telemetry) LookedUp(d time.Duration) {
	if t == nil || t.m == nil {
		return
	}
	t.m.lookup.Observe(d.Seconds())
}

// Compiled counts a module load whose compiled code came from the cache (hit) or not.
func (t *Telemetry) Compiled(hit bool) {
	if t == nil || t.m == nil {
		return
	}
	if hit {
		t.m.cacheHits.Inc()
	} else {
		t.m.cacheMisses.Inc()
	}
}

// Swapped counts a live swap of the module kind/name, refused when err is not nil, and
// lists it among the recent events.
func (t *Telemetry) Swapped(kind, name, oldDigest, newDigest string, err error) {
	if t == nil {
		return
	}
	result, detail := "swapped", short(oldDigest)+" → "+short(newDigest)
	if err != nil {
		result, detail = "refused", err.Error()
	}
	if t.m != nil {
		t.m.swaps.WithLabelValues(kind, name, result).Inc()
	}
	t.events.add(Event{Time: time.Now(), Type: "swap " + result, Kind: kind, Module: name, Detail: detail})
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// StartPublish starts the span of a publication to topic, and returns the header the
// message carries: header with the span's trace context added (a copy; header is not
// changed). end ends the span with the publication's error.
func (t *Telemetry) StartPublish(ctx context.Context, topic string, header map[string]string) (context.Context, map[string]string, func(error)) {
	if t == nil || t.tracer == nil {
		return ctx, header, func(error) {}
	}
	ctx, span := t.tracer.Start(ctx, "publish "+topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "go-micro"), attribute.String("messaging.destination.name", topic)))
	out := make(map[string]string, len(header)+2)
	for k, v := range header {
		if !IsTraceHeader(k) {
			out[k] = v
		}
	}
	Inject(ctx, func(k, v string) { out[k] = v })
	return ctx, out, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, firstLine(err.Error()))
		}
		span.End()
	}
}

// StartDelivery starts the span of a delivery of topic to a subscriber, a child of the
// publication's when the message's header (get) carries its traceparent.
func (t *Telemetry) StartDelivery(ctx context.Context, topic string, get func(string) string) (context.Context, func(error)) {
	if t == nil || t.tracer == nil {
		return ctx, func(error) {}
	}
	ctx = t.prop.Extract(ctx, getter(get))
	ctx, span := t.tracer.Start(ctx, "deliver "+topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "go-micro"), attribute.String("messaging.destination.name", topic)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, firstLine(err.Error()))
		}
		span.End()
	}
}
