package ports

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// holdEnv, when set in the environment of the test binary, makes it a
// helper process that listens on the address it holds, prints "ready" and
// keeps the port until its standard input is closed.
const holdEnv = "PORTS_TEST_HOLD_ADDR"

func TestMain(m *testing.M) {
	if addr := os.Getenv(holdEnv); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = ln.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// block is a run of consecutive ports on one host, each held by a listener
// of the test until released.
type block struct {
	t    *testing.T
	host string
	base int
	held []net.Listener
}

// freeBlock finds n consecutive free ports on host and holds them all, so
// that nothing else can take them before the test releases the ones it
// wants free. It probes blocks at pseudo-random bases from 20000 up to
// 60000 until one is wholly free. The listeners still held are closed when
// the test ends.
func freeBlock(t *testing.T, host string, n int) *block {
	t.Helper()
	for range 100 {
		b := &block{t: t, host: host, base: 20000 + rand.IntN(40000-n)}
		for i := range n {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(b.base+i)))
			if err != nil {
				break
			}
			b.held = append(b.held, ln)
		}
		if len(b.held) == n {
			t.Cleanup(func() { b.release() })
			return b
		}
		for _, ln := range b.held {
			_ = ln.Close()
		}
	}
	t.Fatalf("found no %d consecutive free ports on %s", n, host)
	return nil
}

// port returns the port at offset i of the block.
func (b *block) port(i int) int { return b.base + i }

// addr returns the address of the block's ports from offset lo to hi.
func (b *block) addr(lo, hi int) string {
	return Range{Host: b.host, Min: b.port(lo), Max: b.port(hi)}.String()
}

// release frees the ports at the given offsets, or all when none are given.
func (b *block) release(offsets ...int) {
	b.t.Helper()
	if len(offsets) == 0 {
		for i := range b.held {
			offsets = append(offsets, i)
		}
	}
	for _, i := range offsets {
		if b.held[i] != nil {
			if err := b.held[i].Close(); err != nil {
				b.t.Errorf("release port %d: %v", b.port(i), err)
			}
			b.held[i] = nil
		}
	}
}

// keep releases every port of the block except those at the given offsets.
func (b *block) keep(offsets ...int) {
	b.t.Helper()
	busy := make(map[int]bool)
	for _, i := range offsets {
		busy[i] = true
	}
	for i := range b.held {
		if !busy[i] {
			b.release(i)
		}
	}
}

// boundPort returns the port ln is bound to and checks its host.
func boundPort(t *testing.T, ln net.Listener, host string) int {
	t.Helper()
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("Addr() is %T, want *net.TCPAddr", ln.Addr())
	}
	if want := net.ParseIP(host); want != nil && !a.IP.Equal(want) {
		t.Errorf("listener bound to %v, want host %s", a, host)
	}
	return a.Port
}

// checkExhausted checks err is an exhaustion error for addr that wraps
// target.
func checkExhausted(t *testing.T, err error, addr string, target error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Listen(%s) succeeded, want the range exhausted", addr)
	}
	if !errors.Is(err, ErrExhausted) {
		t.Errorf("error %q does not match ErrExhausted", err)
	}
	if !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %v", err, target)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the range %s", err, addr)
	}
}

func TestListenRange(t *testing.T) {
	tests := []struct {
		name string
		size int
		busy []int // offsets taken before Listen
		dash bool  // write a one-port range as min-max
		want int   // offset of the expected port; -1 for exhaustion
	}{
		{name: "first free", size: 3, want: 0},
		{name: "first busy", size: 3, busy: []int{0}, want: 1},
		{name: "first two busy", size: 3, busy: []int{0, 1}, want: 2},
		{name: "middle busy", size: 3, busy: []int{1}, want: 0},
		{name: "only last free", size: 6, busy: []int{0, 1, 2, 3, 4}, want: 5},
		{name: "all busy", size: 3, busy: []int{0, 1, 2}, want: -1},
		{name: "one port free", size: 1, want: 0},
		{name: "one port busy", size: 1, busy: []int{0}, want: -1},
		{name: "one-port range free", size: 1, dash: true, want: 0},
		{name: "one-port range busy", size: 1, busy: []int{0}, dash: true, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := freeBlock(t, "127.0.0.1", tt.size)
			b.keep(tt.busy...)
			addr := b.addr(0, tt.size-1)
			if tt.dash {
				addr = fmt.Sprintf("127.0.0.1:%d-%d", b.port(0), b.port(0))
			}
			ln, err := Listen(context.Background(), "tcp", addr)
			if tt.want < 0 {
				if ln != nil {
					ln.Close()
				}
				checkExhausted(t, err, b.addr(0, tt.size-1), syscall.EADDRINUSE)
				return
			}
			if err != nil {
				t.Fatalf("Listen(%s): %v", addr, err)
			}
			defer ln.Close()
			if got := boundPort(t, ln, "127.0.0.1"); got != b.port(tt.want) {
				t.Errorf("Listen(%s) bound port %d, want %d", addr, got, b.port(tt.want))
			}
		})
	}
}

func TestListenSystemPicks(t *testing.T) {
	for _, tt := range []struct{ network, addr, host string }{
		{"tcp", ":0", ""},
		{"tcp", "127.0.0.1:0", "127.0.0.1"},
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
	} {
		t.Run(tt.network+" "+tt.addr, func(t *testing.T) {
			ln, err := Listen(context.Background(), tt.network, tt.addr)
			if err != nil {
				t.Fatalf("Listen(%s): %v", tt.addr, err)
			}
			defer ln.Close()
			if port := boundPort(t, ln, tt.host); port == 0 {
				t.Errorf("Listen(%s) reports port 0, want the port the system picked", tt.addr)
			}
		})
	}
}

// TestListenSkipsOtherProcess checks a port held by another process is
// skipped.
func TestListenSkipsOtherProcess(t *testing.T) {
	b := freeBlock(t, "127.0.0.1", 2)
	b.release(0)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+b.addr(0, 0))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper process said %q (%v), want ready", line, err)
	}
	b.release(1)

	ln, err := Listen(context.Background(), "tcp", b.addr(0, 1))
	if err != nil {
		t.Fatalf("Listen(%s): %v", b.addr(0, 1), err)
	}
	defer ln.Close()
	if got := boundPort(t, ln, "127.0.0.1"); got != b.port(1) {
		t.Errorf("bound port %d, want %d (port %d is the other process's)", got, b.port(1), b.port(0))
	}
	_, err = Listen(context.Background(), "tcp", b.addr(0, 1))
	checkExhausted(t, err, b.addr(0, 1), syscall.EADDRINUSE)
}

func TestListenIPv6(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	probe.Close()
	b := freeBlock(t, "::1", 2)
	b.keep(0)
	addr := b.addr(0, 1)
	if !strings.HasPrefix(addr, "[::1]:") {
		t.Fatalf("block address %q, want it in brackets", addr)
	}
	for _, network := range []string{"tcp", "tcp6"} {
		ln, err := Listen(context.Background(), network, addr)
		if err != nil {
			t.Fatalf("Listen(%s, %s): %v", network, addr, err)
		}
		if got := boundPort(t, ln, "::1"); got != b.port(1) {
			t.Errorf("Listen(%s, %s) bound port %d, want %d", network, addr, got, b.port(1))
		}
		ln.Close()
	}
}

func TestListenConcurrent(t *testing.T) {
	const n = 50
	b := freeBlock(t, "127.0.0.1", n)
	b.release()
	addr := b.addr(0, n-1)

	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		listeners = make([]net.Listener, n)
		errs      = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			listeners[i], errs[i] = Listen(context.Background(), "tcp", addr)
		})
	}
	close(start)
	wg.Wait()
	defer func() {
		for _, ln := range listeners {
			if ln != nil {
				ln.Close()
			}
		}
	}()

	seen := make(map[int]bool)
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
			continue
		}
		port := boundPort(t, listeners[i], "127.0.0.1")
		if port < b.port(0) || port > b.port(n-1) {
			t.Errorf("goroutine %d bound port %d, outside %s", i, port, addr)
		}
		if seen[port] {
			t.Errorf("port %d bound twice", port)
		}
		seen[port] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct ports bound, want %d", len(seen), n)
	}

	ln, err := Listen(context.Background(), "tcp", addr)
	if ln != nil {
		ln.Close()
	}
	checkExhausted(t, err, addr, syscall.EADDRINUSE)
}

// controlled returns a ListenConfig whose Control hook hands each attempted
// port to fn and fails the attempt with fn's error, and a pointer to the
// distinct ports attempted so far. The hook may run twice for one port:
// where the system supports Multipath TCP, the net package first tries an
// MPTCP socket and, on any error, tries again with plain TCP.
func controlled(fn func(port int) error) (*net.ListenConfig, *[]int) {
	var attempts []int
	return &net.ListenConfig{
		Control: func(_, address string, _ syscall.RawConn) error {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			port, err := strconv.Atoi(p)
			if err != nil {
				return err
			}
			if len(attempts) == 0 || attempts[len(attempts)-1] != port {
				attempts = append(attempts, port)
			}
			return fn(port)
		},
	}, &attempts
}

func TestListenWithErrors(t *testing.T) {
	errOther := errors.New("some other failure")
	tests := []struct {
		name     string
		fail     func(b *block, port int) error
		want     int   // offset of the expected port; -1 for an error
		attempts int   // number of ports attempted
		target   error // the error to match, when want is -1
		exhaust  bool  // whether the error is an exhaustion
	}{
		{
			name:     "permission denied is skipped",
			fail:     func(b *block, port int) error { return failOn(port == b.port(0), syscall.EACCES) },
			want:     1,
			attempts: 2,
		},
		{
			name:     "operation not permitted is skipped",
			fail:     func(b *block, port int) error { return failOn(port == b.port(0), syscall.EPERM) },
			want:     1,
			attempts: 2,
		},
		{
			name: "in use at listen(2) is skipped",
			fail: func(b *block, port int) error {
				return failOn(port < b.port(2), os.NewSyscallError("listen", syscall.EADDRINUSE))
			},
			want:     2,
			attempts: 3,
		},
		{
			name:     "all denied",
			fail:     func(*block, int) error { return syscall.EACCES },
			want:     -1,
			attempts: 3,
			target:   os.ErrPermission,
			exhaust:  true,
		},
		{
			name:     "address not available aborts",
			fail:     func(*block, int) error { return syscall.EADDRNOTAVAIL },
			want:     -1,
			attempts: 1,
			target:   syscall.EADDRNOTAVAIL,
		},
		{
			name:     "other error aborts after skipped ports",
			fail:     func(b *block, port int) error { return failOnElse(port == b.port(0), syscall.EADDRINUSE, errOther) },
			want:     -1,
			attempts: 2,
			target:   errOther,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := freeBlock(t, "127.0.0.1", 3)
			b.release()
			lc, attempts := controlled(func(port int) error { return tt.fail(b, port) })
			addr := b.addr(0, 2)
			ln, err := ListenWith(context.Background(), lc, "tcp", addr)
			if got := len(*attempts); got != tt.attempts {
				t.Errorf("%d ports attempted (%v), want %d", got, *attempts, tt.attempts)
			}
			if tt.want >= 0 {
				if err != nil {
					t.Fatalf("ListenWith(%s): %v", addr, err)
				}
				defer ln.Close()
				if got := boundPort(t, ln, "127.0.0.1"); got != b.port(tt.want) {
					t.Errorf("bound port %d, want %d", got, b.port(tt.want))
				}
				return
			}
			if err == nil {
				ln.Close()
				t.Fatalf("ListenWith(%s) succeeded, want an error", addr)
			}
			if !errors.Is(err, tt.target) {
				t.Errorf("error %q does not match %v", err, tt.target)
			}
			if errors.Is(err, ErrExhausted) != tt.exhaust {
				t.Errorf("error %q: errors.Is(err, ErrExhausted) = %v, want %v", err, !tt.exhaust, tt.exhaust)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the range %s", err, addr)
			}
		})
	}
}

// failOn returns err when cond holds and nil otherwise.
func failOn(cond bool, err error) error { return failOnElse(cond, err, nil) }

// failOnElse returns err when cond holds and otherwise else_.
func failOnElse(cond bool, err, else_ error) error {
	if cond {
		return err
	}
	return else_
}

func TestListenContext(t *testing.T) {
	t.Run("done before the first attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lc, attempts := controlled(func(int) error { return nil })
		ln, err := ListenWith(ctx, lc, "tcp", "127.0.0.1:0")
		if err == nil {
			ln.Close()
			t.Fatal("Listen succeeded with a cancelled context")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %q does not match context.Canceled", err)
		}
		if len(*attempts) != 0 {
			t.Errorf("ports attempted: %v, want none", *attempts)
		}
	})
	t.Run("cancelled between attempts", func(t *testing.T) {
		b := freeBlock(t, "127.0.0.1", 3)
		b.release()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lc, attempts := controlled(func(int) error {
			cancel()
			return syscall.EADDRINUSE
		})
		ln, err := ListenWith(ctx, lc, "tcp", b.addr(0, 2))
		if err == nil {
			ln.Close()
			t.Fatal("Listen succeeded after its context was cancelled")
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrExhausted) {
			t.Errorf("error %q: want context.Canceled, not ErrExhausted", err)
		}
		if len(*attempts) != 1 {
			t.Errorf("ports attempted: %v, want only the first", *attempts)
		}
	})
}

func TestListenBadInput(t *testing.T) {
	t.Run("unknown host aborts", func(t *testing.T) {
		b := freeBlock(t, "127.0.0.1", 3)
		b.release()
		addr := fmt.Sprintf("no..such..host:%d-%d", b.port(0), b.port(2))
		ln, err := Listen(context.Background(), "tcp", addr)
		if err == nil {
			ln.Close()
			t.Fatalf("Listen(%s) succeeded", addr)
		}
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) {
			t.Errorf("error %q is not a *net.DNSError", err)
		}
		if errors.Is(err, ErrExhausted) {
			t.Errorf("error %q matches ErrExhausted; an unknown host should abort", err)
		}
	})
	t.Run("malformed address", func(t *testing.T) {
		_, err := Listen(context.Background(), "tcp", "127.0.0.1:9-8")
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v does not match ErrMalformed", err)
		}
	})
	for _, network := range []string{"", "udp", "unix", "ip4"} {
		t.Run("network "+strconv.Quote(network), func(t *testing.T) {
			_, err := Listen(context.Background(), network, "127.0.0.1:0")
			var unknown net.UnknownNetworkError
			if !errors.As(err, &unknown) || string(unknown) != network {
				t.Errorf("error %v is not net.UnknownNetworkError(%q)", err, network)
			}
		})
	}
}
