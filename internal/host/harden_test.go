package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
	"github.com/microhost/microhost/internal/logbuffer"
)

// TestMountCannotBeEscaped gives a hostile module a directory and plants symlinks to a
// secret beside it: no read, write, rename or link reaches outside the directory, and
// ordinary work inside it still succeeds.
func TestMountCannotBeEscaped(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "registry")
	require.NoError(t, os.Mkdir(dir, 0o755))
	secret := filepath.Join(base, "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("TOP-SECRET"), 0o600))
	require.NoError(t, os.Symlink(secret, filepath.Join(dir, "planted-abs")))
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(dir, "planted-rel")))
	require.NoError(t, os.Symlink(base, filepath.Join(dir, "dirlink")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "own.txt"), []byte("mine"), 0o644))

	m := load(t, newRuntime(t, nil), hostileWasm, ModuleOptions{Mounts: []Mount{{HostDir: dir, GuestPath: "/registry"}}})
	res, err := m.Call(context.Background(), &Request{Endpoint: "Hostile.Escape"})
	require.NoError(t, err)
	report := string(res.Body)
	t.Log(report)
	assert.NotContains(t, report, "TOP-SECRET")
	assert.NotContains(t, report, "root:")
	for _, line := range strings.Split(strings.TrimSpace(report), "\n") {
		name, result, _ := strings.Cut(line, ": ")
		if name == "rename-link-in" || name == "hardlink" {
			continue // renaming or hard-linking the planted link itself is allowed; following it is not
		}
		assert.True(t, strings.HasPrefix(result, "refused"), "%s succeeded: %s", name, result)
	}
	b, err := os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "TOP-SECRET", string(b), "the secret was overwritten")
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"registry", "secret.txt"}, names, "files appeared outside the mount")

	res, err = m.Call(context.Background(), &Request{Endpoint: "Hostile.Files", Body: []byte(`{"id":"n1"}`)})
	require.NoError(t, err)
	assert.Equal(t, `1 {"id":"n1"}`, string(res.Body))
}

// TestSleepingGuestStoppedAtDeadline: a guest sleeping far past its deadline is stopped
// within 100 ms of it, with or without interrupts, and its instance is replaced.
func TestSleepingGuestStoppedAtDeadline(t *testing.T) {
	for _, interrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("interrupt=%t", interrupt), func(t *testing.T) {
			m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 1, InterruptOnDeadline: interrupt})
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				start := time.Now()
				_, err := m.Call(ctx, &Request{Endpoint: "Test.Sleep", Body: []byte("1h")})
				took := time.Since(start)
				cancel()
				// The sleeping guest faults at its deadline; on a loaded machine the
				// replacement instance may not be ready in time, which is the same
				// deadline, reported before the guest runs.
				require.ErrorIs(t, err, context.DeadlineExceeded)
				// Stopped at the deadline, not after the hour: the bound is loose, as a
				// race-detector run on a busy machine is slow (the figure is in the benchmarks).
				assert.Less(t, took, 2*time.Second, "stopped %v after a 200ms deadline", took)
			}
			res, err := m.Call(context.Background(), &Request{Endpoint: "Test.Echo", Body: []byte("alive")})
			require.NoError(t, err)
			assert.Equal(t, "||alive", string(res.Body))
		})
	}
}

// TestNewInstancePastTheCallDeadline: a call whose new instance is still starting when the
// call's deadline passes fails with that deadline, not with the start-up deadline's wording.
func TestNewInstancePastTheCallDeadline(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 2, InterruptOnDeadline: true})
	busy, cancelBusy := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = m.Call(busy, &Request{Endpoint: "Test.Sleep", Body: []byte("1h")})
	}()
	defer func() { cancelBusy(); <-done }()
	require.Eventually(t, func() bool { busyN, _ := m.poolStats(); return busyN == 1 }, 10*time.Second, time.Millisecond)

	// The one instance is busy: this call starts a second one, which takes longer than 1 ms.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := m.Call(ctx, &Request{Endpoint: "Test.Echo", Body: []byte("x")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "start-up deadline", "the call's deadline ran out, not the start-up deadline")
}

// TestNoFreeInstance: a request that waited its whole deadline for an instance gets a 503
// naming the module, not a deadline error for a handler that never ran.
func TestNoFreeInstance(t *testing.T) {
	m := load(t, newRuntime(t, nil), testguestWasm, ModuleOptions{PoolSize: 1})
	busy, cancelBusy := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Call(busy, &Request{Endpoint: "Test.Sleep", Body: []byte("1h")})
		done <- err
	}()
	var err error
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = m.Call(ctx, &Request{Endpoint: "Test.Noop"})
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(503), ae.Code)
	assert.Contains(t, ae.Detail, "no free instance of testguest")
	cancelBusy()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(2 * time.Second):
		t.Fatal("the sleeping call was not stopped by its cancellation")
	}
	_, err = m.Call(context.Background(), &Request{Endpoint: "Test.Noop"})
	require.NoError(t, err)
}

// TestGuestWaitingOnAServiceCallStopped: a guest blocked in the call host function is
// stopped at its deadline, not resumed with an error to carry on.
func TestGuestWaitingOnAServiceCallStopped(t *testing.T) {
	path := buildCallGuest(t)
	m := callModule(t, path, ServiceCallerFunc(func(ctx context.Context, req *ServiceRequest) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := relay(ctx, m, "Call.Relay", nil, `{"service":"slow","endpoint":"Slow.Call","body":{}}`)
	require.ErrorIs(t, err, ErrGuestFault)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// Well short of forever; the slack covers a loaded machine under the race detector.
	assert.Less(t, time.Since(start), time.Second)
}

// spinningWAT is a handler module in WebAssembly text that loops forever in one start-up
// phase: "start" (its start function), "init" (_initialize) or "describe"; any other phase
// gives a module that starts at once.
func spinningWAT(t *testing.T, phase string) string {
	t.Helper()
	desc := `{"kind":"handler","name":"spinner","version":"1.0.0","endpoints":[{"name":"Spin.Go","request":"R","response":"R"}]}`
	body := map[string]string{"start": "", "init": "", "describe": ""}
	body[phase] = "(call $spin)"
	start := ""
	if phase == "start" {
		start = "(start $spin)"
	}
	src := fmt.Sprintf(`(module
  (memory (export "memory") 1)
  (data (i32.const 0) %q)
  (func $spin (loop $l (br $l)))
  (func (export "microhost_abi_version_1"))
  (func (export "_initialize") %s)
  (func (export "microhost_describe") (result i64) %s (i64.const %d))
  (func (export "microhost_handle") (param i32 i32) (result i32) (i32.const 0))
  %s)`, desc, body["init"], body["describe"], len(desc), start)
	return buildWAT(t, "spin-"+phase, src)
}

// buildWAT builds the WebAssembly text src into a module named name in a temporary
// directory and returns its path; the test is skipped where the WAT tool is missing.
func buildWAT(t *testing.T, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, name+".wat")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))
	path, err := guestbuild.WAT(context.Background(), file, dir)
	if errors.Is(err, guestbuild.ErrToolMissing) {
		t.Skip(err)
	}
	require.NoError(t, err)
	return path
}

// TestStartupIsBounded: a module looping in its start function, _initialize or descriptor
// export fails to load after the start-up deadline, with or without interrupts, and the
// error names the module and the phase.
func TestStartupIsBounded(t *testing.T) {
	phases := map[string]string{"start": "start function", "init": abi.ExportInitialize, "describe": abi.ExportDescribe}
	for phase, name := range phases {
		path := spinningWAT(t, phase)
		for _, interrupt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/interrupt=%t", phase, interrupt), func(t *testing.T) {
				r, err := NewRuntime(context.Background(), Options{CacheDir: testCacheDir, StartupTimeout: 200 * time.Millisecond})
				require.NoError(t, err)
				defer r.Close(context.Background())
				start := time.Now()
				_, err = r.Load(context.Background(), path, ModuleOptions{InterruptOnDeadline: interrupt})
				require.ErrorIs(t, err, ErrStartup)
				assert.Contains(t, err.Error(), path)
				assert.Contains(t, err.Error(), name+" did not finish within the start-up deadline of 200ms")
				assert.Less(t, time.Since(start), 5*time.Second)
			})
		}
	}
}

// TestGuestLogIsBounded: a call flooding its log and stderr is cut at the cap per call, and
// many calls together at the cap per second, each cut marked.
func TestGuestLogIsBounded(t *testing.T) {
	var logs logbuffer.Buffer
	m := load(t, newRuntime(t, &logs), testguestWasm, ModuleOptions{PoolSize: 1, LogBytesPerCall: 32 << 10, LogBytesPerSecond: 128 << 10})
	_, err := m.Call(context.Background(), &Request{Endpoint: "Test.LogFlood", Body: []byte("5000")}) // 10 MB asked
	require.NoError(t, err)
	out := logs.String()
	assert.Less(t, len(out), 64<<10, "one call logged %d bytes", len(out))
	assert.True(t, strings.Contains(out, "guest log over its cap; the rest of this call's output is dropped"), "no mark of the cut")
	assert.True(t, strings.Contains(out, "truncated=true"), "no record marked truncated")

	start := time.Now()
	for range 20 {
		_, err := m.Call(context.Background(), &Request{Endpoint: "Test.LogFlood", Body: []byte("30")})
		require.NoError(t, err)
	}
	seconds := time.Since(start).Seconds()
	total := len(logs.String()) - len(out)
	assert.Less(t, float64(total), (seconds+1)*float64(160<<10), "20 calls logged %d bytes in %.1fs", total, seconds)
	if seconds < 1 {
		assert.True(t, strings.Contains(logs.String(), "guest log over the module's cap per second"), "no mark of the cut per second")
	}
}

// TestReplyHeadersAreBounded: too many or too large reply headers fail the call with a 500
// naming the limit, without the host holding them.
func TestReplyHeadersAreBounded(t *testing.T) {
	m := load(t, newRuntime(t, nil), hostileWasm, ModuleOptions{PoolSize: 1})
	cases := []struct{ body, want string }{
		{"300 1048576", "set reply headers over the limit of 32768 bytes"},
		{"1000 1", "set more reply headers than the limit of 64"},
	}
	for _, c := range cases {
		_, err := m.Call(context.Background(), &Request{Endpoint: "Hostile.Headers", Body: []byte(c.body)})
		var ae *abi.Error
		require.ErrorAs(t, err, &ae, c.body)
		assert.EqualValues(t, 500, ae.Code)
		assert.Equal(t, "Hostile.Headers "+c.want, ae.Detail)
	}
	res, err := m.Call(context.Background(), &Request{Endpoint: "Hostile.Headers", Body: []byte("64 400")})
	require.NoError(t, err)
	assert.Len(t, res.Header, 64)
}

// TestReservedReplyHeadersAreDropped: a handler cannot set the transport's or mucp's names,
// nor a name or value that would end its header line.
func TestReservedReplyHeadersAreDropped(t *testing.T) {
	m := load(t, newRuntime(t, nil), hostileWasm, ModuleOptions{PoolSize: 1})
	res, err := m.Call(context.Background(), &Request{Endpoint: "Hostile.Reserved"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"X-Ok": "fine"}, res.Header)
	assert.Equal(t, `"body kept"`, string(res.Body))
}

// TestStartupTrustedSkipsTheProbe: a module loaded without interrupts has its start-up
// proven first in a runtime that can stop it, a second compilation of its code; a module
// whose digest StartupTrusted vouches for (a stock build) is spared it, and is told the
// module's digest to decide.
func TestStartupTrustedSkipsTheProbe(t *testing.T) {
	// A small module that starts at once (phase "none" spins nowhere), so that compiling it
	// into a fresh cache per case is quick under the race detector.
	path := spinningWAT(t, "none")
	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	_, digest := digestOf(wasm)
	for _, c := range []struct {
		name        string
		trusted     func(string) bool
		compilation int
	}{
		{"untrusted", nil, 2},
		{"another build trusted", func(d string) bool { return d == strings.Repeat("0", 64) }, 2},
		{"trusted", func(d string) bool { return d == digest }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			r, err := NewRuntime(ctx, Options{CacheDir: t.TempDir()})
			require.NoError(t, err)
			defer r.Close(ctx)
			m, err := r.Load(ctx, path, ModuleOptions{PoolSize: 1, StartupTrusted: c.trusted})
			require.NoError(t, err)
			defer m.Close(ctx)
			_, err = m.Call(ctx, &Request{Endpoint: "Spin.Go"})
			require.NoError(t, err)
			assert.Equal(t, c.compilation, r.cacheFiles(), "compilations in the cache")
		})
	}
}

// TestProvenStartupIsNotProvenAgain: bytes whose start-up finished once in a runtime that
// can stop it, in a probe or in a load with interrupts, are not probed again by the same
// Runtime (a swap loads a file its conformance suite loaded just before); another Runtime
// proves them anew.
func TestProvenStartupIsNotProvenAgain(t *testing.T) {
	ctx := context.Background()
	path := spinningWAT(t, "none")
	loads := func(r *Runtime, logs *logbuffer.Buffer, opts ModuleOptions) int {
		t.Helper()
		before := strings.Count(logs.String(), "msg=\"module loaded\"")
		m, err := r.Load(ctx, path, opts)
		require.NoError(t, err)
		require.NoError(t, m.Close(ctx))
		return strings.Count(logs.String(), "msg=\"module loaded\"") - before
	}

	var logs logbuffer.Buffer
	r := newRuntime(t, &logs)
	assert.Equal(t, 2, loads(r, &logs, ModuleOptions{PoolSize: 1}), "the first load is probed")
	assert.Equal(t, 1, loads(r, &logs, ModuleOptions{PoolSize: 1}), "the same bytes again")

	var other logbuffer.Buffer
	r2 := newRuntime(t, &other)
	assert.Equal(t, 1, loads(r2, &other, ModuleOptions{PoolSize: 1, InterruptOnDeadline: true}))
	assert.Equal(t, 1, loads(r2, &other, ModuleOptions{PoolSize: 1}), "proven by the load with interrupts")

	var third logbuffer.Buffer
	assert.Equal(t, 2, loads(newRuntime(t, &third), &third, ModuleOptions{PoolSize: 1}), "another Runtime")
}
