package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/hosttest"
	"github.com/microhost/microhost/internal/localregistry"
	"github.com/microhost/microhost/internal/wasmcomponent"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// env is one test's world: a registry directory shared by every broker, and a runtime.
type env struct {
	t       testing.TB
	reg     *localregistry.Registry
	rt      *host.Runtime
	modules map[string]*host.Module
}

func newEnv(t testing.TB) *env {
	t.Helper()
	reg, err := localregistry.New(t.TempDir())
	require.NoError(t, err)
	return &env{t: t, reg: reg, rt: hosttest.Runtime(t, testCompilations), modules: map[string]*host.Module{}}
}

// testCompilations holds the compiled modules of the tests' runtimes, shared by them all,
// and keeps those no module uses: the tests load the same modules again and again, each load
// from the compilation cache a few tenths of a CPU-second or more under the race detector.
var testCompilations = host.NewCompilations(8)

// load loads the module at path once per test; brokers share its instance pool.
func (e *env) load(path string) *host.Module {
	e.t.Helper()
	if m, ok := e.modules[path]; ok {
		return m
	}
	m, err := e.rt.Load(context.Background(), path, host.ModuleOptions{PoolSize: 4, InterruptOnDeadline: true})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = m.Close(context.Background()) })
	e.modules[path] = m
	return m
}

// protocol returns the protocol of mode: "native" or "wasm".
func (e *env) protocol(mode string) broker.Protocol {
	if mode == "wasm" {
		m, err := wasmcomponent.Load(context.Background(), e.rt, wasmcomponent.Spec{Kind: component.KindBroker, Name: httpbroker.Name,
			Path: brokerWasm, Ops: component.BrokerOps(), Options: host.ModuleOptions{PoolSize: 4}})
		require.NoError(e.t, err)
		e.t.Cleanup(func() { _ = m.Close(context.Background()) })
		return broker.Wasm(m)
	}
	return httpbroker.Protocol{}
}

// broker starts a broker, closed when the test ends. Lookups are not cached, so every
// publication sees the registry as it is.
func (e *env) broker(mode string, tweak ...func(*broker.Options)) *broker.Broker {
	e.t.Helper()
	opts := broker.Options{
		Registry:  e.reg,
		Protocol:  e.protocol(mode),
		LookupTTL: -1,
		RetryFor:  2 * time.Second,
		Backoff:   5 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&opts)
	}
	b, err := broker.New(opts)
	require.NoError(e.t, err)
	require.NoError(e.t, b.Start(context.Background()))
	e.t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// subscribe subscribes a broker of its own to topic with the example subscriber module.
func (e *env) subscribe(mode, topic, queue string) (*broker.Broker, *broker.Subscription) {
	e.t.Helper()
	b := e.broker(mode)
	s, err := b.Subscribe(context.Background(), topic, queue, broker.ModuleHandler(e.load(subscriberWasm)))
	require.NoError(e.t, err)
	return b, s
}

func publishN(t testing.TB, b *broker.Broker, topic string, n int) {
	t.Helper()
	for i := range n {
		require.NoError(t, b.Publish(context.Background(), topic, &broker.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}))
	}
}

var modes = []string{"native", "wasm"}

func TestBroadcastReachesEverySubscriber(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			var subs []*broker.Subscription
			for range 3 {
				_, s := e.subscribe(mode, "events", "")
				subs = append(subs, s)
			}
			_, other := e.subscribe(mode, "orders", "")
			pub := e.broker(mode)
			publishN(t, pub, "events", 20)
			for _, s := range subs {
				assert.EqualValues(t, 20, s.Received(), s.ID())
			}
			assert.Zero(t, other.Received(), "a subscriber of another topic got messages")
			st := pub.Stats()
			assert.EqualValues(t, 20, st.Published)
			assert.EqualValues(t, 60, st.Delivered)
			assert.Zero(t, st.Dropped)
		})
	}
}

func TestQueueGroupGetsEachMessageOnce(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			_, q1 := e.subscribe(mode, "events", "workers")
			_, q2 := e.subscribe(mode, "events", "workers")
			_, all := e.subscribe(mode, "events", "")
			var seed atomic.Uint64
			pub := e.broker(mode, func(o *broker.Options) { o.Seed = func() uint64 { return seed.Add(1) } })
			publishN(t, pub, "events", 60)
			assert.EqualValues(t, 60, q1.Received()+q2.Received(), "the queue group got each message once")
			assert.Positive(t, q1.Received(), "one member of the group got nothing")
			assert.Positive(t, q2.Received(), "one member of the group got nothing")
			assert.EqualValues(t, 60, all.Received(), "the broadcast subscriber got every message")
		})
	}
}

func TestRestartedSubscriberReceivesAgain(t *testing.T) {
	e := newEnv(t)
	_, steady := e.subscribe("native", "events", "")
	restarting, first := e.subscribe("native", "events", "")
	pub := e.broker("native", func(o *broker.Options) { o.RetryFor = 50 * time.Millisecond })

	// The loop stops between publications, never inside one, so the last message reaches
	// every live subscriber before the counts are compared.
	var stop atomic.Bool
	var published atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			// Deliveries to the subscriber that is going away may be dropped: not an error here.
			_ = pub.Publish(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
			published.Add(1)
		}
	}()
	require.Eventually(t, func() bool { return first.Received() >= 10 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, restarting.Close(context.Background()))
	stopped := first.Received()

	_, second := e.subscribe("native", "events", "")
	require.Eventually(t, func() bool { return second.Received() >= 10 }, 10*time.Second, 5*time.Millisecond,
		"the restarted subscriber receives again")
	stop.Store(true)
	<-done
	assert.Equal(t, stopped, first.Received(), "the stopped subscriber received after it stopped")
	assert.GreaterOrEqual(t, steady.Received(), second.Received()+stopped, "the steady subscriber missed messages")
}

func TestMalformedDeliveryGets4xx(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			b, s := e.subscribe(mode, "events", "")
			base := "http://" + b.Addr() + "/"
			good := `{"Header":{"Micro-Topic":"events"},"Body":"e30="}`
			cases := []struct {
				name, method, query, ct, body string
				code                          int
			}{
				{"GET", "GET", "id=" + s.ID(), "application/json", good, 405},
				{"no id", "POST", "", "application/json", good, 400},
				{"unknown id", "POST", "id=nobody", "application/json", good, 404},
				{"wrong content type", "POST", "id=" + s.ID(), "text/plain", good, 415},
				{"not JSON", "POST", "id=" + s.ID(), "application/json", `{"Header":`, 400},
				{"unknown field", "POST", "id=" + s.ID(), "application/json", `{"Header":{"Micro-Topic":"events"},"Bogus":1}`, 400},
				{"no topic", "POST", "id=" + s.ID(), "application/json", `{"Header":{},"Body":"e30="}`, 400},
				{"body not base64", "POST", "id=" + s.ID(), "application/json", `{"Header":{"Micro-Topic":"events"},"Body":"%%%"}`, 400},
				{"wrong topic", "POST", "id=" + s.ID(), "application/json", `{"Header":{"Micro-Topic":"orders"},"Body":"e30="}`, 400},
				{"trailing data", "POST", "id=" + s.ID(), "application/json", good + "{}", 400},
				{"too big", "POST", "id=" + s.ID(), "application/json", `{"Header":{"Micro-Topic":"events"},"Body":"` + strings.Repeat("A", 5<<20) + `"}`, 413},
			}
			for _, c := range cases {
				req, err := http.NewRequest(c.method, base+"?"+c.query, strings.NewReader(c.body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", c.ct)
				rsp, err := http.DefaultClient.Do(req)
				require.NoError(t, err, c.name)
				rsp.Body.Close()
				assert.Equal(t, c.code, rsp.StatusCode, c.name)
			}
			assert.Zero(t, s.Received())
			assert.EqualValues(t, len(cases), b.Stats().Rejected)

			// The same subscriber still takes a well-formed delivery.
			rsp, err := http.Post(base+"?id="+s.ID(), "application/json", strings.NewReader(good))
			require.NoError(t, err)
			rsp.Body.Close()
			assert.Equal(t, 200, rsp.StatusCode)
			assert.EqualValues(t, 1, s.Received())
		})
	}
}

func TestTrappingSubscriberDoesNotStopOthers(t *testing.T) {
	e := newEnv(t)
	_, good := e.subscribe("wasm", "events", "")
	tb := e.broker("wasm")
	trap, err := tb.Subscribe(context.Background(), "events", "", broker.ModuleHandler(e.load(trapsubWasm)))
	require.NoError(t, err)
	// The window leaves room for a retry even when a trap and the new instance after it make
	// the first attempt slow on a loaded machine.
	pub := e.broker("wasm", func(o *broker.Options) { o.RetryFor = 300 * time.Millisecond })
	for range 5 {
		// One subscriber got it: not a dropped publication, but the result names the one
		// that did not.
		res, err := pub.PublishResult(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
		require.NoError(t, err)
		assert.Equal(t, []string{good.ID()}, res.Delivered)
		require.Len(t, res.Failed, 1)
		assert.Equal(t, trap.ID(), res.Failed[0].Node)
	}
	assert.EqualValues(t, 5, good.Received())
	assert.GreaterOrEqual(t, trap.Failed(), int64(5), "each message was tried on the trapping subscriber")
	st := pub.Stats()
	assert.EqualValues(t, 5, st.Dropped)
	assert.EqualValues(t, 5, st.Delivered)
	assert.Zero(t, st.Lost)
	assert.Positive(t, st.Retries)
}

func TestFailedDeliveryIsRetried(t *testing.T) {
	e := newEnv(t)
	sb := e.broker("native")
	var calls atomic.Int64
	s, err := sb.Subscribe(context.Background(), "events", "", func(ctx context.Context, ev *broker.Event) error {
		if calls.Add(1) <= 3 {
			return abi.NewError("", 503, "not yet")
		}
		return nil
	})
	require.NoError(t, err)
	pub := e.broker("native")
	require.NoError(t, pub.Publish(context.Background(), "events", &broker.Message{Body: []byte(`{}`)}))
	assert.EqualValues(t, 1, s.Received())
	assert.EqualValues(t, 3, s.Failed())
	assert.EqualValues(t, 3, pub.Stats().Retries)
}

func TestRefusedMessageIsNotRetried(t *testing.T) {
	e := newEnv(t)
	_, s := e.subscribe("native", "events", "")
	pub := e.broker("native")
	err := pub.Publish(context.Background(), "events", &broker.Message{Body: []byte(`{"reject":true}`)})
	require.ErrorIs(t, err, broker.ErrDropped)
	assert.Contains(t, err.Error(), "400")
	assert.EqualValues(t, 1, s.Failed())
	assert.Zero(t, pub.Stats().Retries)
}

func TestDropAfterRetryBound(t *testing.T) {
	e := newEnv(t)
	sb := e.broker("native")
	_, err := sb.Subscribe(context.Background(), "events", "", func(ctx context.Context, ev *broker.Event) error {
		return errors.New("always failing")
	})
	require.NoError(t, err)
	pub := e.broker("native", func(o *broker.Options) { o.RetryFor = 100 * time.Millisecond })
	start := time.Now()
	err = pub.Publish(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
	require.ErrorIs(t, err, broker.ErrDropped)
	assert.Less(t, time.Since(start), 2*time.Second, "the retry window bounds a delivery")
	assert.EqualValues(t, 1, pub.Stats().Dropped)
}

func TestHeadersReachTheSubscriber(t *testing.T) {
	e := newEnv(t)
	sb := e.broker("wasm")
	got := make(chan *broker.Event, 1)
	_, err := sb.Subscribe(context.Background(), "events", "", func(ctx context.Context, ev *broker.Event) error {
		got <- ev
		return nil
	})
	require.NoError(t, err)
	pub := e.broker("wasm")
	require.NoError(t, pub.Publish(context.Background(), "events", &broker.Message{
		Header: map[string]string{"Trace": "abc"},
		Body:   []byte{0, 1, 2, 255},
	}))
	ev := <-got
	assert.Equal(t, "events", ev.Topic)
	assert.Equal(t, []byte{0, 1, 2, 255}, ev.Body)
	assert.Equal(t, "abc", ev.Header["Trace"])
	assert.Equal(t, "events", ev.Header[httpbroker.HeaderTopic])
	assert.Equal(t, "application/octet-stream", ev.Header["Content-Type"])
	assert.NotEmpty(t, ev.Header["Micro-Id"])
}

func TestRegistrationLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.broker("native", func(o *broker.Options) { o.TTL, o.Interval = 300*time.Millisecond, 50*time.Millisecond })
	s, err := b.Subscribe(context.Background(), "events", "workers", broker.ModuleHandler(e.load(subscriberWasm)))
	require.NoError(t, err)

	svcs, err := e.reg.GetService(context.Background(), httpbroker.ServiceName)
	require.NoError(t, err)
	require.Len(t, svcs, 1)
	assert.Equal(t, "workers", svcs[0].Version)
	require.Len(t, svcs[0].Nodes, 1)
	n := svcs[0].Nodes[0]
	assert.Equal(t, s.ID(), n.ID)
	assert.Equal(t, b.Addr(), n.Address)
	assert.Equal(t, map[string]string{"broker": "http", "topic": "events", "secure": "false"}, n.Metadata)

	// Re-registration keeps the node alive well past its TTL.
	require.Never(t, func() bool {
		_, err := e.reg.GetService(context.Background(), httpbroker.ServiceName)
		return err != nil
	}, 600*time.Millisecond, 20*time.Millisecond, "the subscriber expired despite re-registration")

	require.NoError(t, b.Close(context.Background()))
	require.NoError(t, b.Close(context.Background()), "Close is idempotent")
	_, err = e.reg.GetService(context.Background(), httpbroker.ServiceName)
	require.ErrorIs(t, err, abi.ErrServiceNotFound, "Close deregisters")
	_, err = b.Subscribe(context.Background(), "events", "", broker.ModuleHandler(e.load(subscriberWasm)))
	require.ErrorIs(t, err, broker.ErrClosed)
}

func TestNoSubscribersIsNotAnError(t *testing.T) {
	e := newEnv(t)
	pub := e.broker("wasm")
	n, err := pub.PublishCount(context.Background(), "nobody-listens", &broker.Message{Body: []byte(`{}`)})
	require.NoError(t, err)
	assert.Zero(t, n)
	err = pub.Publish(context.Background(), "bad topic", &broker.Message{})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.EqualValues(t, 400, ae.Code)
}

// TestTenThousandMessagesNoneLost publishes 10,000 messages to 3 subscribers, each a broker
// of its own delivering to the Wasm subscriber module, and counts that every subscriber got
// every one.
func TestTenThousandMessagesNoneLost(t *testing.T) {
	const total, workers = 10_000, 16
	e := newEnv(t)
	var subs []*broker.Subscription
	for range 3 {
		_, s := e.subscribe("native", "events", "")
		subs = append(subs, s)
	}
	pub := e.broker("native", func(o *broker.Options) { o.LookupTTL = time.Second })
	// About 10 s under -race on an idle 2-core machine; the bound is only a backstop.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total || ctx.Err() != nil {
					return
				}
				if err := pub.Publish(ctx, "events", &broker.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, s := range subs {
		assert.EqualValues(t, total, s.Received(), s.ID())
		assert.Zero(t, s.Failed())
	}
	st := pub.Stats()
	assert.EqualValues(t, total, st.Published)
	assert.EqualValues(t, 3*total, st.Delivered)
	assert.Zero(t, st.Dropped)
}
