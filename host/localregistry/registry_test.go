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
	r, err := New(t.TempDir())
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
	r, err := New(t.TempDir())
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
	r, err := New(dir)
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
	r1, err := New(dir)
	require.NoError(t, err)
	r2, err := New(dir)
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
