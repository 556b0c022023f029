package wasmcomponent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/host"
)

// BytesLoader loads a module from bytes already read; *host.Runtime satisfies it.
type BytesLoader interface {
	LoadBytes(ctx context.Context, path string, wasm []byte, opts host.ModuleOptions) (*host.Module, error)
}

// Candidate is a module prepared off the request path for a live swap: read, fingerprinted,
// compiled, initialized, checked and warmed, not yet serving.
type Candidate struct {
	// Module is the loaded module; the Live it is swapped into owns it, else the caller
	// closes it.
	Module *host.Module
	// Digest is the SHA-256 of the file's bytes, in hex.
	Digest string
	// Compile is how long reading, compiling, initializing, checking and warming took.
	Compile time.Duration
}

// Digest returns the SHA-256 of b in hex, the fingerprint a live module is known by.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Prepare loads the module file s names for a live swap and runs the checks of start-up on
// it — check, given the descriptor and the bytes loaded, or Check against s when check is
// nil — then warms up to warm instances. A file that is not Wasm, a module of another kind,
// name or ABI version, a trapping initializer or a failed check is an error naming the file;
// nothing stays loaded then.
func Prepare(ctx context.Context, l BytesLoader, s Spec, warm int, check func(d abi.Descriptor, wasm []byte) error) (*Candidate, error) {
	start := time.Now()
	wasm, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Path, err)
	}
	m, err := l.LoadBytes(ctx, s.Path, wasm, s.Options)
	if err != nil {
		return nil, err
	}
	if check == nil {
		check = func(d abi.Descriptor, _ []byte) error { return Check(d, s) }
	}
	if err := check(m.Descriptor(), wasm); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("module %s: %w", s.Path, err)
	}
	if err := m.Warm(ctx, warm); err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return &Candidate{Module: m, Digest: Digest(wasm), Compile: time.Since(start)}, nil
}

// lease is one module a Live serves or served, counted: one reference for being current and
// one per call in flight. It is closed when the count drops to zero.
type lease struct {
	m      *host.Module
	digest string
	refs   atomic.Int64
}

func (l *lease) release() {
	if l.refs.Add(-1) == 0 {
		_ = l.m.Close(context.Background())
	}
}

// Live is a component slot whose module can be replaced while it serves — the adapter's
// live swap. Calls take the current module for their whole duration; Swap makes a new module
// current at once, and the old one is closed when its last call in flight returns. A Live
// serves handler calls (it satisfies the server's and the broker's handler interfaces) and
// component operations alike. It is safe for concurrent use.
type Live struct {
	cur    atomic.Pointer[lease]
	closed atomic.Bool
}

// NewLive returns a Live serving m, whose file has the given digest. The Live owns m.
func NewLive(m *host.Module, digest string) *Live {
	l := &Live{}
	l.cur.Store(newLease(m, digest))
	return l
}

func newLease(m *host.Module, digest string) *lease {
	ls := &lease{m: m, digest: digest}
	ls.refs.Store(1)
	return ls
}

// ErrClosed is returned by calls on a Live that was closed.
var ErrClosed = errors.New("component module closed")

// acquire takes a reference on the current module, or returns nil once the Live is closed. A
// lease whose count reached zero is closed: if it is still current the Live was closed,
// else it was swapped out and the loop takes the one now current.
func (l *Live) acquire() *lease {
	for {
		ls := l.cur.Load()
		n := ls.refs.Load()
		if n == 0 {
			if l.cur.Load() == ls {
				return nil
			}
			continue
		}
		if ls.refs.CompareAndSwap(n, n+1) {
			return ls
		}
	}
}

// Acquire returns the current module and a function to call once done with it; the module
// stays open until then even if it is swapped out meanwhile. It returns ErrClosed once the
// Live is closed.
func (l *Live) Acquire() (*host.Module, func(), error) {
	ls := l.acquire()
	if ls == nil {
		return nil, nil, ErrClosed
	}
	return ls.m, ls.release, nil
}

// Call runs req on the current module.
func (l *Live) Call(ctx context.Context, req *host.Request) (*host.Response, error) {
	ls := l.acquire()
	if ls == nil {
		return nil, ErrClosed
	}
	defer ls.release()
	return ls.m.Call(ctx, req)
}

// Descriptor returns the current module's descriptor.
func (l *Live) Descriptor() abi.Descriptor { return l.cur.Load().m.Descriptor() }

// Digest returns the digest of the current module's file.
func (l *Live) Digest() string { return l.cur.Load().digest }

// Swap makes c's module current and returns the digest of the module it replaces, which is
// closed once its calls in flight have returned. The Live owns c.Module from then on; a closed
// Live closes it at once. Swap and Close must not run concurrently.
func (l *Live) Swap(c *Candidate) (old string) {
	if l.closed.Load() {
		_ = c.Module.Close(context.Background())
		return ""
	}
	prev := l.cur.Swap(newLease(c.Module, c.Digest))
	prev.release()
	return prev.digest
}

// Close drops the current module; it is closed once its calls in flight have returned, and
// later calls fail with ErrClosed. It is safe to call more than once.
func (l *Live) Close() {
	if l.closed.CompareAndSwap(false, true) {
		l.cur.Load().release()
	}
}
