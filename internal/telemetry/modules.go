package telemetry

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ModuleInfo says what a module is, for its metrics' labels and the admin page.
type ModuleInfo struct {
	// Kind is the module's kind (handler, codec, transport…) and Name its declared name.
	Kind, Name string
	// Version and Digest (the SHA-256 of its file, hex) tell builds apart; Path is its file.
	Version, Digest, Path string
	// Native is set for a component served by its native twin, compiled into the host.
	Native bool
}

// Module is what the service observes of one module, by kind and name: a live swap's new
// module shares its predecessor's.
type Module struct {
	t *Telemetry
	// key is kind + "/" + name.
	key, kind, name string

	mu    sync.Mutex
	info  ModuleInfo
	refs  int
	pools map[int]func() (busy, idle int)
	next  int

	calls, errors, traps, deadlines atomic.Uint64
	// dur and inst are nil when metrics are off.
	dur  prometheus.Histogram
	inst prometheus.Observer
}

type moduleSet struct {
	mu    sync.Mutex
	byKey map[string]*Module
}

// Module returns the observer of the module info describes, listing it until every holder
// released it. Nil on a nil *Telemetry.
func (t *Telemetry) Module(info ModuleInfo) *Module {
	if t == nil {
		return nil
	}
	key := info.Kind + "/" + info.Name
	t.modules.mu.Lock()
	defer t.modules.mu.Unlock()
	m := t.modules.byKey[key]
	if m == nil {
		m = &Module{t: t, key: key, kind: info.Kind, name: info.Name, pools: map[int]func() (int, int){}}
		if t.m != nil {
			m.dur = t.m.moduleCall.WithLabelValues(info.Kind, info.Name).(prometheus.Histogram)
			m.inst = t.m.instantiation.WithLabelValues(info.Kind, info.Name)
		}
		t.modules.byKey[key] = m
	}
	m.mu.Lock()
	m.info = info
	m.refs++
	m.mu.Unlock()
	return m
}

// Release drops a holder of m; the module leaves the list with its last holder.
func (m *Module) Release() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.refs--
	last := m.refs <= 0
	m.mu.Unlock()
	if last {
		m.t.modules.mu.Lock()
		if m.t.modules.byKey[m.key] == m {
			delete(m.t.modules.byKey, m.key)
		}
		m.t.modules.mu.Unlock()
	}
}

// AddPool adds an instance pool whose busy and idle counts stats reports at each scrape;
// remove takes it away.
func (m *Module) AddPool(stats func() (busy, idle int)) (remove func()) {
	if m == nil {
		return func() {}
	}
	m.mu.Lock()
	id := m.next
	m.next++
	m.pools[id] = stats
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.pools, id)
		m.mu.Unlock()
	}
}

// Instantiated records the time one instance took to start.
func (m *Module) Instantiated(d time.Duration) {
	if m == nil || m.inst == nil {
		return
	}
	m.inst.Observe(d.Seconds())
}

// Outcome is how a module's call ended.
type Outcome uint8

// Outcomes of a module's call.
const (
	// OK: the module answered.
	OK Outcome = iota
	// Failed: the module returned an error of its own.
	Failed
	// Trapped: the guest faulted (a trap, an ABI violation); its instance was replaced.
	Trapped
	// Stopped: the guest was stopped at its deadline.
	Stopped
)

// ModuleCall is one call into a module, from Start to End.
type ModuleCall struct {
	m     *Module
	start time.Time
	span  trace.Span
}

// Start starts observing a call of endpoint into m; its span, "wasm <name>", goes into the
// returned context, so calls and publications the guest makes are its children.
func (m *Module) Start(ctx context.Context, endpoint string) (context.Context, ModuleCall) {
	if m == nil {
		return ctx, ModuleCall{}
	}
	c := ModuleCall{m: m}
	if m.dur != nil {
		c.start = time.Now()
	}
	if tr := m.t.tracer; tr != nil {
		ctx, c.span = tr.Start(ctx, "wasm "+m.name, trace.WithAttributes(
			attribute.String("microhost.module.kind", m.kind), attribute.String("microhost.module.name", m.name),
			attribute.String("microhost.endpoint", endpoint)))
	}
	return ctx, c
}

// End records the call's outcome; err is the fault of a trapped or stopped call.
func (c ModuleCall) End(o Outcome, err error) {
	m := c.m
	if m == nil {
		return
	}
	m.calls.Add(1)
	switch o {
	case Failed:
		m.errors.Add(1)
	case Trapped:
		m.errors.Add(1)
		m.traps.Add(1)
	case Stopped:
		m.errors.Add(1)
		m.deadlines.Add(1)
	}
	if m.dur != nil {
		m.dur.Observe(time.Since(c.start).Seconds())
	}
	if (o == Trapped || o == Stopped) && err != nil {
		typ := "trap"
		if o == Stopped {
			typ = "deadline stop"
		}
		m.t.events.add(Event{Time: time.Now(), Type: typ, Kind: m.kind, Module: m.name, Detail: firstLine(err.Error())})
	}
	if c.span != nil {
		if o != OK {
			msg := "error"
			if err != nil {
				msg = firstLine(err.Error())
			}
			c.span.SetStatus(codes.Error, msg)
		}
		c.span.End()
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ModuleSnapshot is a module's state, for the admin page.
type ModuleSnapshot struct {
	ModuleInfo
	Busy, Idle                      int
	Calls, Errors, Traps, Deadlines uint64
	// P50 and P99 are the call durations' estimated quantiles in seconds; NaN without
	// metrics or calls.
	P50, P99 float64
}

// Modules returns the modules listed, by kind and name.
func (t *Telemetry) Modules() []ModuleSnapshot {
	if t == nil {
		return nil
	}
	t.modules.mu.Lock()
	ms := make([]*Module, 0, len(t.modules.byKey))
	for _, m := range t.modules.byKey {
		ms = append(ms, m)
	}
	t.modules.mu.Unlock()
	slices.SortFunc(ms, func(a, b *Module) int { return strings.Compare(a.key, b.key) })
	out := make([]ModuleSnapshot, 0, len(ms))
	for _, m := range ms {
		s := ModuleSnapshot{Calls: m.calls.Load(), Errors: m.errors.Load(), Traps: m.traps.Load(), Deadlines: m.deadlines.Load(), P50: math.NaN(), P99: math.NaN()}
		m.mu.Lock()
		s.ModuleInfo = m.info
		for _, p := range m.pools {
			b, i := p()
			s.Busy += b
			s.Idle += i
		}
		m.mu.Unlock()
		if m.dur != nil {
			var d dto.Metric
			if m.dur.Write(&d) == nil && d.Histogram != nil {
				s.P50, s.P99 = quantile(d.Histogram, .5), quantile(d.Histogram, .99)
			}
		}
		out = append(out, s)
	}
	return out
}

// quantile estimates the q-quantile of h by linear interpolation in its bucket, as
// Prometheus' histogram_quantile does.
func quantile(h *dto.Histogram, q float64) float64 {
	total := h.GetSampleCount()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	lower, prev := 0.0, uint64(0)
	for _, b := range h.GetBucket() {
		n := b.GetCumulativeCount()
		if float64(n) >= rank {
			upper := b.GetUpperBound()
			if n == prev {
				return upper
			}
			return lower + (upper-lower)*(rank-float64(prev))/float64(n-prev)
		}
		lower, prev = b.GetUpperBound(), n
	}
	return lower
}

// moduleCollector exports, at each scrape, the counters the modules and the broker keep.
type moduleCollector struct{ t *Telemetry }

var (
	descCalls     = prometheus.NewDesc("microhost_module_calls_total", "Calls into a module, by module kind and name.", []string{"kind", "module"}, nil)
	descErrors    = prometheus.NewDesc("microhost_module_errors_total", "Calls into a module that failed (its own error, a trap or a deadline stop), by module kind and name.", []string{"kind", "module"}, nil)
	descTraps     = prometheus.NewDesc("microhost_module_traps_total", "Calls whose guest faulted (a trap or an ABI violation); the instance was replaced.", []string{"kind", "module"}, nil)
	descDeadlines = prometheus.NewDesc("microhost_module_deadline_stops_total", "Calls whose guest was stopped at its deadline; the instance was replaced.", []string{"kind", "module"}, nil)
	descInstances = prometheus.NewDesc("microhost_module_instances", "Instances of a module, by module kind, name and state (busy or idle).", []string{"kind", "module", "state"}, nil)
	descBroker    = map[string]*prometheus.Desc{
		"published": prometheus.NewDesc("microhost_broker_published_total", "Messages the service published.", nil, nil),
		"delivered": prometheus.NewDesc("microhost_broker_delivered_total", "Deliveries of the service's publications that subscribers accepted.", nil, nil),
		"retried":   prometheus.NewDesc("microhost_broker_retried_total", "Delivery attempts made after a failed one.", nil, nil),
		"dropped":   prometheus.NewDesc("microhost_broker_dropped_total", "Deliveries given up on after their retries.", nil, nil),
	}
)

// Describe implements prometheus.Collector.
func (c moduleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descErrors, descTraps, descDeadlines, descInstances} {
		ch <- d
	}
	for _, d := range descBroker {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c moduleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.t.Modules() {
		if s.Native {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(descTraps, prometheus.CounterValue, float64(s.Traps), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(descDeadlines, prometheus.CounterValue, float64(s.Deadlines), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(s.Busy), s.Kind, s.Name, "busy")
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(s.Idle), s.Kind, s.Name, "idle")
	}
	if f := c.t.broker.Load(); f != nil {
		b := (*f)()
		for name, v := range map[string]int64{"published": b.Published, "delivered": b.Delivered, "retried": b.Retried, "dropped": b.Dropped} {
			ch <- prometheus.MustNewConstMetric(descBroker[name], prometheus.CounterValue, float64(v))
		}
	}
}

// BrokerCounts are the broker's counters since it started.
type BrokerCounts struct{ Published, Delivered, Retried, Dropped int64 }

// SetBroker makes the broker's counters, read by counts at each scrape, part of the metrics.
func (t *Telemetry) SetBroker(counts func() BrokerCounts) {
	if t == nil {
		return
	}
	t.broker.Store(&counts)
}

// Event is one thing worth an operator's attention: a swap, a trap, a deadline stop.
type Event struct {
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	Kind   string    `json:"kind"`
	Module string    `json:"module"`
	Detail string    `json:"detail"`
}

// maxEvents bounds the recent events kept.
const maxEvents = 50

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == maxEvents {
		copy(l.events, l.events[1:])
		l.events = l.events[:maxEvents-1]
	}
	l.events = append(l.events, e)
}

// Events returns the recent events, newest first.
func (t *Telemetry) Events() []Event {
	if t == nil {
		return nil
	}
	t.events.mu.Lock()
	defer t.events.mu.Unlock()
	out := make([]Event, len(t.events.events))
	for i, e := range t.events.events {
		out[len(out)-1-i] = e
	}
	return out
}
