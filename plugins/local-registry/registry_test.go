package localregistry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
)

func svc(name, version string, ids ...string) *abi.Service {
	s := &abi.Service{Name: name, Version: version, Endpoints: []abi.Endpoint{{Name: "Greeter.Hello"}}}
	for _, id := range ids {
		s.Nodes = append(s.Nodes, abi.Node{ID: id, Address: "127.0.0.1:1"})
	}
	return s
}

func TestRegisterGetDeregister(t *testing.T) {
	ctx := context.Background()
	r, err := New(t.TempDir(), Options{})
	require.NoError(t, err)

	_, err = r.GetService(ctx, "greeter")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)

	require.NoError(t, r.Register(ctx, svc("greeter", "1.0.0", "greeter-a"), time.Minute))
	require.NoError(t, r.Register(ctx, svc("greeter", "1.0.0", "greeter-b"), time.Minute))
	require.NoError(t, r.Register(ctx, svc("greeter", "2.0.0", "greeter-c"), time.Minute))
	got, err := r.GetService(ctx, "greeter")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "1.0.0", got[0].Version)
	assert.Equal(t, []string{"greeter-a", "greeter-b"}, []string{got[0].Nodes[0].ID, got[0].Nodes[1].ID})
	assert.Equal(t, "greeter-c", got[1].Nodes[0].ID)
	assert.Equal(t, "Greeter.Hello", got[0].Endpoints[0].Name)

	names, err := r.ListServices(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"greeter"}, names)

	require.NoError(t, r.Deregister(ctx, svc("greeter", "2.0.0", "greeter-c")))
	got, err = r.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Len(t, got, 1)
	require.NoError(t, r.Deregister(ctx, svc("greeter", "1.0.0", "greeter-a", "greeter-b")))
	_, err = r.GetService(ctx, "greeter")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
}

func TestExpiredEntriesIgnored(t *testing.T) {
	ctx := context.Background()
	r, err := New(t.TempDir(), Options{})
	require.NoError(t, err)
	now := time.Now()
	r.now = func() time.Time { return now }
	require.NoError(t, r.Register(ctx, svc("greeter", "1", "greeter-old"), 10*time.Second))
	require.NoError(t, r.Register(ctx, svc("greeter", "1", "greeter-new"), 30*time.Second))
	now = now.Add(20 * time.Second)
	got, err := r.GetService(ctx, "greeter")
	require.NoError(t, err)
	require.Len(t, got[0].Nodes, 1)
	assert.Equal(t, "greeter-new", got[0].Nodes[0].ID)

	// Re-registering refreshes the expiry.
	require.NoError(t, r.Register(ctx, svc("greeter", "1", "greeter-new"), 30*time.Second))
	now = now.Add(25 * time.Second)
	_, err = r.GetService(ctx, "greeter")
	require.NoError(t, err)
	now = now.Add(10 * time.Second)
	_, err = r.GetService(ctx, "greeter")
	require.ErrorIs(t, err, abi.ErrServiceNotFound)
}

func TestGarbageIsSkipped(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := New(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, r.Register(ctx, svc("greeter", "1", "greeter-a"), time.Minute))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greeter", "junk.json"), []byte("{not json"), 0o644))
	got, err := r.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Len(t, got[0].Nodes, 1)
}

// TestConcurrentWriters has many goroutines and two registries on one directory register,
// refresh and read at once; every read must see whole entries only.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r1, err := New(dir, Options{})
	require.NoError(t, err)
	r2, err := New(dir, Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := r1
			if i%2 == 1 {
				r = r2
			}
			s := svc("greeter", "1", fmt.Sprintf("greeter-%d", i))
			for range 25 {
				if err := r.Register(ctx, s, time.Minute); err != nil {
					errs <- err
				}
				got, err := r.GetService(ctx, "greeter")
				if err != nil {
					errs <- err
					continue
				}
				for _, n := range got[0].Nodes {
					if n.Address != "127.0.0.1:1" {
						errs <- fmt.Errorf("torn entry %+v", n)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := r1.GetService(ctx, "greeter")
	require.NoError(t, err)
	assert.Len(t, got[0].Nodes, 16)
	leftovers, err := filepath.Glob(filepath.Join(dir, "greeter", ".tmp-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

// TestWatch has a watcher blocked on the current state see a registration by another
// registry on the same directory, then the deregistration, and time out unchanged.
func TestWatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := New(dir, Options{WatchWait: 5 * time.Second, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	other, err := New(dir, Options{})
	require.NoError(t, err)

	svcs, idx, err := w.Watch(ctx, "greeter", 0)
	require.NoError(t, err)
	assert.Empty(t, svcs)
	require.NotZero(t, idx)

	type result struct {
		svcs []*abi.Service
		idx  uint64
		err  error
	}
	next := func(idx uint64) chan result {
		ch := make(chan result, 1)
		go func() {
			s, i, err := w.Watch(ctx, "greeter", idx)
			ch <- result{s, i, err}
		}()
		return ch
	}
	ch := next(idx)
	require.NoError(t, other.Register(ctx, svc("greeter", "1", "greeter-a"), time.Minute))
	res := <-ch
	require.NoError(t, res.err)
	require.Len(t, res.svcs, 1)
	assert.Equal(t, "greeter-a", res.svcs[0].Nodes[0].ID)
	assert.NotEqual(t, idx, res.idx)

	ch = next(res.idx)
	require.NoError(t, other.Deregister(ctx, svc("greeter", "1", "greeter-a")))
	res2 := <-ch
	require.NoError(t, res2.err)
	assert.Empty(t, res2.svcs)
	assert.Equal(t, idx, res2.idx, "the empty state has the same index as before")

	short, err := New(dir, Options{WatchWait: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	_, same, err := short.Watch(ctx, "greeter", res2.idx)
	require.NoError(t, err)
	assert.Equal(t, res2.idx, same, "no change: the wait bound passes and the index stays")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = w.Watch(cctx, "greeter", res2.idx)
	require.ErrorIs(t, err, context.Canceled)

	_, _, err = w.Watch(ctx, "", 0)
	require.Error(t, err)
}
