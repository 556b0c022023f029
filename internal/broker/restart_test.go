package broker_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
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
	"github.com/microhost/microhost/internal/brokertest"
	"github.com/microhost/microhost/internal/localregistry"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// TestSubscriberKilledAndRestarted publishes a bounded run of messages to a subscriber
// process — a broadcast subscriber and a queue group member of the topic — that is SIGKILLed
// midway and restarted on the same address under new node ids, while its old nodes stay in
// the registry, beside a steady in-process subscriber. Within the retry window nothing is
// lost (every subscriber got every message), and no publication is reported dropped: the
// listener's 404 for a dead node id is not a refusal, the publisher resolves the topic's
// subscribers again and reaches the restarted ones.
func TestSubscriberKilledAndRestarted(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { testSubscriberKilledAndRestarted(t, mode) })
	}
}

func testSubscriberKilledAndRestarted(t *testing.T, mode string) {
	const total, workers = 500, 4
	regDir := t.TempDir()
	reg, err := localregistry.New(regDir)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	outFile := t.TempDir() + "/received"

	steadyB, err := broker.New(broker.Options{Registry: reg, Protocol: httpbroker.Protocol{}})
	require.NoError(t, err)
	require.NoError(t, steadyB.Start(context.Background()))
	t.Cleanup(func() { _ = steadyB.Close(context.Background()) })
	var steadyMu sync.Mutex
	steady := map[int]int{}
	_, err = steadyB.Subscribe(context.Background(), "events", "", func(_ context.Context, ev *broker.Event) error {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(ev.Body), `{"n":`), "}"))
		steadyMu.Lock()
		steady[n]++
		steadyMu.Unlock()
		return err
	})
	require.NoError(t, err)

	first := brokertest.StartSubscriber(t, addr, regDir, outFile, "events")
	// The publisher routes through the protocol of mode: the native twin or the http-broker
	// module.
	pub, err := broker.New(broker.Options{Registry: reg, Protocol: newEnv(t).protocol(mode), RetryFor: 20 * time.Second})
	require.NoError(t, err)
	require.NoError(t, pub.Start(context.Background()))
	t.Cleanup(func() { _ = pub.Close(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var failures []string
	results := make([]*broker.PublishResult, total+1)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > total || ctx.Err() != nil {
					return
				}
				res, err := pub.PublishResult(ctx, "events", &broker.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)})
				mu.Lock()
				results[i] = res
				if err != nil {
					failures = append(failures, fmt.Sprintf("%d: %v", i, err))
				}
				mu.Unlock()
			}
		})
	}

	// Kill the subscriber a fifth of the way in; restart it once the publisher is retrying.
	require.Eventually(t, func() bool { return len(brokertest.Received(t, outFile)[brokertest.Broadcast]) >= total/5 }, time.Minute, 5*time.Millisecond)
	first.Kill(t)
	killedAt := next.Load()
	require.Eventually(t, func() bool { return pub.Stats().Retries >= 3 }, time.Minute, 5*time.Millisecond,
		"the publisher retries while the subscriber is down")
	brokertest.StartSubscriber(t, addr, regDir, outFile, "events")
	wg.Wait()
	require.NoError(t, ctx.Err())
	assert.Less(t, killedAt, int64(total), "the subscriber was killed after the run ended")

	assert.Empty(t, failures, "publications reported dropped")
	got := brokertest.Received(t, outFile)
	var lostB, lostQ, lostSteady, short []int
	for i := 1; i <= total; i++ {
		if got[brokertest.Broadcast][i] == 0 {
			lostB = append(lostB, i)
		}
		if got[brokertest.Queue][i] == 0 {
			lostQ = append(lostQ, i)
		}
		if steady[i] == 0 {
			lostSteady = append(lostSteady, i)
		}
		if r := results[i]; r == nil || len(r.Delivered) != 3 || len(r.Failed) != 0 {
			short = append(short, i)
		}
	}
	assert.Empty(t, lostB, "messages the restarted broadcast subscriber never got")
	assert.Empty(t, lostQ, "messages the restarted queue group never got")
	assert.Empty(t, lostSteady, "messages the steady subscriber never got")
	for _, i := range short {
		if r := results[i]; r != nil {
			t.Logf("publication %d: delivered %v, failed %v, gone %v", i, r.Delivered, r.Failed, r.Gone)
		}
	}
	assert.Empty(t, short, "publications whose result does not list three subscribers")
	st := pub.Stats()
	assert.Zero(t, st.Lost)
	assert.Zero(t, st.Dropped)
	assert.Positive(t, st.Gone, "the dead nodes' ids were answered 404 by the restarted listener")
	t.Logf("published %d, killed after %d, retries %d, gone %d, duplicates b=%d q=%d", total, killedAt, st.Retries, st.Gone,
		dups(got[brokertest.Broadcast]), dups(got[brokertest.Queue]))
}

func dups(m map[int]int) int {
	n := 0
	for _, c := range m {
		n += c - 1
	}
	return n
}

// registerFake registers a subscriber node of "events" that no broker serves: at addr, in
// group version.
func registerFake(t *testing.T, reg *localregistry.Registry, id, addr, version string) {
	t.Helper()
	require.NoError(t, reg.Register(context.Background(), &abi.Service{Name: component.BrokerServiceName, Version: version,
		Nodes: []abi.Node{{ID: id, Address: addr, Metadata: map[string]string{
			component.BrokerMetaBroker: "http", component.BrokerMetaTopic: "events", component.BrokerMetaSecure: "false"}}}}, time.Minute))
}

// TestQueueGroupPassesOverADeadMember: a queue group whose other member is unreachable gets
// every message through its live member, and no publication lists a failure.
func TestQueueGroupPassesOverADeadMember(t *testing.T) {
	e := newEnv(t)
	_, live := e.subscribe("native", "events", "workers")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())
	registerFake(t, e.reg, "events-broker-dead", dead, "workers")
	var seed atomic.Uint64
	pub := e.broker("native", func(o *broker.Options) { o.Seed = func() uint64 { return seed.Add(1) } })
	for i := range 20 {
		res, err := pub.PublishResult(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
		require.NoError(t, err, i)
		assert.Equal(t, []string{live.ID()}, res.Delivered, i)
		assert.Empty(t, res.Failed, i)
	}
	assert.EqualValues(t, 20, live.Received())
	st := pub.Stats()
	assert.Positive(t, st.Retries, "the dead member was tried")
	assert.Zero(t, st.Dropped)
}

// TestGoneSubscriberWithoutSuccessor: a registered node whose address's listener answers
// 404 for it, with no other subscriber of the topic registering in the retry window, is a
// dropped publication; later publications leave the node out, so the topic then has no
// subscribers.
func TestGoneSubscriberWithoutSuccessor(t *testing.T) {
	e := newEnv(t)
	host, _ := e.subscribe("native", "orders", "") // a live listener, serving another topic
	registerFake(t, e.reg, "events-broker-gone", host.Addr(), component.BrokerBroadcastVersion)
	pub := e.broker("native", func(o *broker.Options) { o.RetryFor = 200 * time.Millisecond })
	res, err := pub.PublishResult(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
	require.ErrorIs(t, err, broker.ErrDropped)
	assert.Equal(t, []string{"events-broker-gone"}, res.Gone)
	require.Len(t, res.Failed, 1)
	assert.Contains(t, res.Failed[0].Err.Error(), "no subscriber replaced it")

	res, err = pub.PublishResult(context.Background(), "events", &broker.Message{Body: []byte(`{}`)})
	require.NoError(t, err)
	assert.Empty(t, res.Delivered)
	assert.Empty(t, res.Gone, "the gone node is left out")
	st := pub.Stats()
	assert.EqualValues(t, 1, st.Lost)
	assert.EqualValues(t, 1, st.Gone)
}

// TestGoneQueueMemberAdmitsNoNewBroadcastNode: while a publication waits for a gone queue
// group member's successor, a broadcast subscriber registered since the publication began is
// not sent the message: it cannot succeed a queue member, and it may be the restart of a
// broadcast subscriber that already has it (the duplicate a killed subscriber process
// produced, when its restart registered both kinds of node).
func TestGoneQueueMemberAdmitsNoNewBroadcastNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, steady := e.subscribe("native", "events", "")
	listener, _ := e.subscribe("native", "orders", "") // a live listener, serving another topic
	registerFake(t, e.reg, "events-broker-gone", listener.Addr(), "workers")
	pub := e.broker("native", func(o *broker.Options) { o.RetryFor = time.Second })

	done := make(chan *broker.PublishResult, 1)
	go func() {
		res, _ := pub.PublishResult(ctx, "events", &broker.Message{Body: []byte(`{}`)})
		done <- res
	}()
	require.Eventually(t, func() bool { return pub.Stats().Gone >= 1 }, 10*time.Second, time.Millisecond,
		"the queue member is found gone")
	_, late := e.subscribe("native", "events", "")
	res := <-done
	require.NotNil(t, res)
	assert.Equal(t, []string{"events-broker-gone"}, res.Gone)
	assert.EqualValues(t, 1, steady.Received())
	assert.Zero(t, late.Received(), "the broadcast subscriber registered since was sent the message")
	assert.Len(t, res.Delivered, 1, "delivered to %v", res.Delivered)
}
