package service

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/logbuffer"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// rss returns the process's resident set size in bytes, after a collection that returns
// what it can to the OS.
func rss(t testing.TB) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// After 200 swaps of a Go handler (about 2 MB of Wasm, an instance per core each time) the
// process's RSS is within 10% of its level after the first few: old modules are released.
func TestLiveSwapReleasesOldModules(t *testing.T) {
	if testing.Short() {
		t.Skip("200 swaps")
	}
	if raceEnabled {
		// The race detector keeps shadow memory for every mapping the process ever had and
		// never returns it, so RSS says nothing about leaks; `make test` runs this test once
		// more without -race.
		t.Skip("RSS is not a leak measure under the race detector")
	}
	greeter, err := os.ReadFile(filepath.Join(pluginDir, "greeter.wasm"))
	require.NoError(t, err)
	builds := [][]byte{guestbuild.Variant(greeter, 1), greeter}
	precompile(t, builds[0])
	dir := t.TempDir()
	file := filepath.Join(dir, "swapper.wasm")
	require.NoError(t, os.WriteFile(file, greeter, 0o644))
	var logs logbuffer.Buffer
	// The service compiles for itself: the old modules' code must go with them.
	svc := startWatchedWith(t, dir, &logs, Deps{Catalogue: stockCatalogue(t)})
	ctx := context.Background()
	hc := &http.Client{Timeout: 5 * time.Second}
	swap := func(i int) {
		replace(t, file, builds[i%2])
		require.NoError(t, svc.Reload(ctx))
		require.Equal(t, wasmcomponent.Digest(builds[i%2]), svc.slots[0].live.Digest())
		body, err := call(hc, svc.Addr(), "Greeter.Hello")
		require.NoError(t, err)
		require.Contains(t, body, "Hello x")
	}
	for i := range 10 {
		swap(i)
	}
	base := rss(t)
	for i := 10; i < 200; i++ {
		swap(i)
	}
	after := rss(t)
	t.Logf("RSS after 10 swaps %.1f MiB, after 200 swaps %.1f MiB (%+.1f%%)", float64(base)/(1<<20), float64(after)/(1<<20), 100*float64(after-base)/float64(base))
	require.LessOrEqual(t, after, base+base/10, "RSS grew more than 10%% over 190 swaps")
}

// BenchmarkLiveSwap serves a handler to 32 keep-alive clients and swaps it b.N times through
// the file watcher. It reports the swap latency (file complete → first request answered by
// the new module, the watcher's debounce included) and the request latency p50/p99 in steady
// state and while swaps are under way.
func BenchmarkLiveSwap(b *testing.B) {
	v1 := buildSwapHandler(b, "swapper", `{"v":1}`, "Swap.Echo")
	v2 := buildSwapHandler(b, "swapper", `{"v":2}`, "Swap.Echo")
	dir := b.TempDir()
	file := filepath.Join(dir, "swapper.wasm")
	require.NoError(b, os.WriteFile(file, v1, 0o644))
	var logs logbuffer.Buffer
	svc := startWatched(b, dir, &logs)

	var mu sync.Mutex
	var steady, swapping []time.Duration
	phase := 0 // 0 warm-up, 1 steady, 2 swapping
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				_, err := call(hc, svc.Addr(), "Swap.Echo")
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					mu.Unlock()
					b.Error(err)
					return
				}
				switch phase {
				case 1:
					steady = append(steady, d)
				case 2:
					swapping = append(swapping, d)
				}
				mu.Unlock()
			}
		}()
	}
	setPhase := func(p int) { mu.Lock(); phase = p; mu.Unlock() }
	time.Sleep(500 * time.Millisecond) // warm-up
	setPhase(1)
	time.Sleep(2 * time.Second)
	setPhase(2)
	probe := &http.Client{Timeout: 10 * time.Second}
	builds := [][]byte{v2, v1}
	replies := []string{`{"v":2}`, `{"v":1}`}
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		replace(b, file, builds[i%2])
		start := time.Now()
		for {
			body, err := call(probe, svc.Addr(), "Swap.Echo")
			require.NoError(b, err)
			if body == replies[i%2] {
				break
			}
		}
		total += time.Since(start)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	pct := func(ds []time.Duration, p float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return float64(ds[int(float64(len(ds)-1)*p)].Microseconds())
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/swap")
	b.ReportMetric(pct(steady, 0.5), "steady-p50-µs")
	b.ReportMetric(pct(steady, 0.99), "steady-p99-µs")
	b.ReportMetric(pct(swapping, 0.5), "swapping-p50-µs")
	b.ReportMetric(pct(swapping, 0.99), "swapping-p99-µs")
	b.Log(fmt.Sprintf("%d steady and %d swapping requests", len(steady), len(swapping)))
}
