package registrycache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

// memSource is an in-memory registry whose Watch blocks until the state changes, as
// Consul's blocking queries do, and which can be switched off to simulate an outage.
type memSource struct {
	mu      sync.Mutex
	changed *sync.Cond
	nodes   map[string][]string
	version uint64
	down    bool
	gets    int
}

var errDown = errors.New("connection refused")

func newMemSource() *memSource {
	s := &memSource{nodes: map[string][]string{}, version: 1}
	s.changed = sync.NewCond(&s.mu)
	return s
}

func (s *memSource) set(name string, ids ...string) {
	s.mu.Lock()
	s.nodes[name] = ids
	s.version++
	s.mu.Unlock()
	s.changed.Broadcast()
}

func (s *memSource) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.version++
	s.mu.Unlock()
	s.changed.Broadcast()
}

func (s *memSource) services(name string) []*abi.Service {
	ids := s.nodes[name]
	if len(ids) == 0 {
		return nil
	}
	svc := &abi.Service{Name: name, Version: "1"}
	for _, id := range ids {
		svc.Nodes = append(svc.Nodes, abi.Node{ID: id, Address: "127.0.0.1:1"})
	}
	return []*abi.Service{svc}
}

func (s *memSource) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.down {
		return nil, errDown
	}
	svcs := s.services(name)
	if svcs == nil {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	return svcs, nil
}

func (s *memSource) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.changed.Broadcast()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.version == index && ctx.Err() == nil {
		s.changed.Wait()
	}
	if ctx.Err() != nil {
		return nil, index, ctx.Err()
	}
	if s.down {
		return nil, index, errDown
	}
	return s.services(name), s.version, nil
}

func (s *memSource) getCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

// logBuffer collects log lines safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func ids(svcs []*abi.Service) []string {
	var out []string
	for _, s := range svcs {
		for _, n := range s.Nodes {
			out = append(out, n.ID)
		}
	}
	return out
}

func TestServesFromMemoryAndFollowsWatch(t *testing.T) {
	ctx := context.Background()
	src := newMemSource()
	src.set("greeter", "greeter-a")
	c := New(src, Options{})
	defer c.Close()

	got, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Equal(t, []string{"greeter-a"}, ids(got))
	gets := src.getCount()
	for range 100 {
		_, err := c.GetService(ctx, "greeter")
		require.NoError(t, err)
	}
	assert.Equal(t, gets, src.getCount(), "hits are served from memory")

	src.set("greeter", "greeter-a", "greeter-b")
	require.Eventually(t, func() bool {
		got, err := c.GetService(ctx, "greeter")
		return err == nil && len(ids(got)) == 2
	}, time.Second, time.Millisecond)
	src.set("greeter")
	require.Eventually(t, func() bool {
		_, err := c.GetService(ctx, "greeter")
		return errors.Is(err, abi.ErrServiceNotFound)
	}, time.Second, time.Millisecond)
	assert.Equal(t, gets, src.getCount(), "changes arrive through the watch")
	assert.NotZero(t, c.Updates("greeter"))
}

func TestUnknownServiceIsNotFound(t *testing.T) {
	c := New(newMemSource(), Options{})
	defer c.Close()
	_, err := c.GetService(context.Background(), "nobody")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
}

func TestOutageServesLastKnownAndLogsOnce(t *testing.T) {
	ctx := context.Background()
	src := newMemSource()
	src.set("greeter", "greeter-a")
	var logs logBuffer
	c := New(src, Options{
		TTL:      time.Nanosecond, // every lookup also asks the source
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	defer c.Close()
	_, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)

	src.setDown(true)
	for range 50 {
		got, err := c.GetService(ctx, "greeter")
		require.NoError(t, err, "the last known nodes are served")
		assert.Equal(t, []string{"greeter-a"}, ids(got))
	}
	// The watch keeps failing and retrying meanwhile.
	require.Eventually(t, func() bool { return src.getCount() > 10 }, time.Second, time.Millisecond)
	assert.Equal(t, 1, logs.count("registry unreachable"), "an outage is logged once")

	_, err = c.GetService(ctx, "never-seen")
	require.ErrorIs(t, err, errDown, "with nothing cached the failure shows")

	src.setDown(false)
	src.set("greeter", "greeter-b")
	require.Eventually(t, func() bool {
		got, err := c.GetService(ctx, "greeter")
		return err == nil && ids(got)[0] == "greeter-b"
	}, time.Second, time.Millisecond)
	// The watch may be the one that saw the recovery, logging it just after.
	require.Eventually(t, func() bool { return logs.count("registry reachable again") > 0 }, time.Second, time.Millisecond)
	for range 20 {
		_, err := c.GetService(ctx, "greeter")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, logs.count("registry reachable again"), "the recovery is logged once")
	assert.Equal(t, 1, logs.count("registry unreachable"))
}

func TestStaleEntryIsRefetched(t *testing.T) {
	ctx := context.Background()
	src := newMemSource()
	src.set("greeter", "greeter-a")
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	c := New(src, Options{TTL: time.Minute, Now: clock})
	defer c.Close()
	_, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Updates("greeter") >= 2 }, time.Second, time.Millisecond, "the watch answered")
	before := src.getCount()
	_, err = c.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Equal(t, before, src.getCount())
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	_, err = c.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Equal(t, before+1, src.getCount(), "an entry older than the TTL is fetched again")
}

func TestIdleNameStopsBeingWatched(t *testing.T) {
	ctx := context.Background()
	src := newMemSource()
	src.set("greeter", "greeter-a")
	now := time.Now()
	var mu sync.Mutex
	c := New(src, Options{Idle: time.Minute, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	defer c.Close()
	_, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	src.set("greeter", "greeter-b") // wakes the watch, which sees the name is idle
	require.Eventually(t, func() bool { return c.Updates("greeter") == 0 }, time.Second, time.Millisecond)
}

func TestCloseStopsWatches(t *testing.T) {
	src := newMemSource()
	src.set("a", "a-1")
	src.set("b", "b-1")
	c := New(src, Options{})
	for _, n := range []string{"a", "b"} {
		_, err := c.GetService(context.Background(), n)
		require.NoError(t, err)
	}
	done := make(chan struct{})
	go func() {
		c.Close()
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the watches")
	}
}

// TestEmptyAnswerAfterRecoveryKeepsNodes: a registry that comes back empty (a restarted dev
// agent) does not wipe known nodes during the grace period; later, empty answers count.
func TestEmptyAnswerAfterRecoveryKeepsNodes(t *testing.T) {
	ctx := context.Background()
	src := newMemSource()
	src.set("greeter", "greeter-a")
	now := time.Now()
	var mu sync.Mutex
	c := New(src, Options{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, RecoveryGrace: time.Minute, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	defer c.Close()
	_, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)

	src.setDown(true)
	require.Eventually(t, func() bool { return c.isDown() }, time.Second, time.Millisecond)
	src.set("greeter") // the registry forgot everything while it was down
	src.setDown(false)
	require.Eventually(t, func() bool { return !c.isDown() }, time.Second, time.Millisecond)
	got, err := c.GetService(ctx, "greeter")
	require.NoError(t, err, "known nodes survive an empty answer right after recovery")
	assert.Equal(t, []string{"greeter-a"}, ids(got))

	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	updates := c.Updates("greeter")
	src.set("other", "x") // wakes the watch; its answer for greeter is still empty
	require.Eventually(t, func() bool { return c.Updates("greeter") > updates }, time.Second, time.Millisecond)
	_, err = c.GetService(ctx, "greeter")
	require.ErrorIs(t, err, abi.ErrServiceNotFound, "after the grace period an empty answer counts")
}

// gatedSource holds each GetService of a gated name until the test lets it go on, after
// the source has answered.
type gatedSource struct {
	*memSource
	gated   string
	arrived chan struct{}
	proceed chan struct{}
}

func (g *gatedSource) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	svcs, err := g.memSource.GetService(ctx, name)
	if name == g.gated {
		g.arrived <- struct{}{}
		<-g.proceed
	}
	return svcs, err
}

// An answer to a lookup that began before a failure does not end the outage: the registry
// answered, then failed, and the late answer is no news of a recovery.
func TestLateAnswerDoesNotEndTheOutage(t *testing.T) {
	ctx := context.Background()
	src := &gatedSource{memSource: newMemSource(), arrived: make(chan struct{}), proceed: make(chan struct{})}
	src.set("greeter", "greeter-a")
	src.set("other", "other-a")
	var logs logBuffer
	c := New(src, Options{
		TTL:      time.Nanosecond, // every lookup also asks the source
		RetryMin: time.Hour, RetryMax: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	defer c.Close()
	_, err := c.GetService(ctx, "greeter")
	require.NoError(t, err)

	src.gated = "other"
	late := make(chan error, 1)
	go func() {
		_, err := c.GetService(ctx, "other")
		late <- err
	}()
	<-src.arrived // the source answered "other"; the answer is on its way
	src.setDown(true)
	_, err = c.GetService(ctx, "greeter")
	require.NoError(t, err, "the last known nodes are served")
	require.Equal(t, 1, logs.count("registry unreachable"))

	close(src.proceed)
	require.NoError(t, <-late)
	assert.Zero(t, logs.count("registry reachable again"), "a late answer is not a recovery")
	_, err = c.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Equal(t, 1, logs.count("registry unreachable"), "the outage goes on, logged once")
}
