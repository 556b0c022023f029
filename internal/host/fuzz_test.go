package host

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// fuzzImports is the number of imports testdata/fuzzguest can call (its import order: the
// ABI's host functions, outbound HTTP, then WASI's fd_write and random_get).
const fuzzImports = 16

// The fuzz guest, loaded once per test binary.
var (
	fuzzOnce sync.Once
	fuzzMod  *Module
	fuzzErr  error
)

// loadFuzzTarget loads the fuzz guest with every capability the host can give it: a client,
// a broker, grants to all of them, and outbound HTTP to a granted address that answers
// nothing.
func loadFuzzTarget(tb testing.TB) *Module {
	tb.Helper()
	fuzzOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "microhost-fuzz-")
		if err != nil {
			fuzzErr = err
			return
		}
		defer os.RemoveAll(dir)
		path, err := guestbuild.WAT(ctx, "./internal/host/testdata/fuzzguest", dir)
		if err != nil {
			fuzzErr = err
			return
		}
		rt, err := NewRuntime(ctx, Options{CacheDir: testCacheDir})
		if err != nil {
			fuzzErr = err
			return
		}
		// A granted address nobody listens on: the request is made and refused.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fuzzErr = err
			return
		}
		dead := ln.Addr().String()
		_ = ln.Close()
		m, err := rt.Load(ctx, path, ModuleOptions{
			PoolSize:            2,
			InterruptOnDeadline: true,
			MemoryLimitPages:    4,
			AllowedHosts:        []string{dead},
			Services: ServiceCallerFunc(func(_ context.Context, r *ServiceRequest) ([]byte, error) {
				if len(r.Body)%2 == 0 {
					return []byte(`{"ok":true}`), nil
				}
				return nil, abi.NewError("callee", 400, "odd body")
			}),
			Publisher: PublisherFunc(func(context.Context, string, map[string]string, []byte) error { return nil }),
			Grants:    Grants{Calls: []string{"*"}, Publishes: []string{"**"}},
		})
		if err != nil {
			fuzzErr = err
			return
		}
		fuzzMod = m
	})
	require.NoError(tb, fuzzErr)
	return fuzzMod
}

// fuzzStream is a stream whose client sends two messages and takes everything.
type fuzzStream struct{ n int }

func (s *fuzzStream) Send(context.Context, []byte) error { return nil }

func (s *fuzzStream) Recv(context.Context) ([]byte, error) {
	if s.n >= 2 {
		return nil, errors.New("end of stream")
	}
	s.n++
	return []byte(`{"n":1}`), nil
}

// fuzzBody is the fuzz guest's request: the import's index and eight arguments.
func fuzzBody(op uint32, args [8]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, op)
	for _, a := range args {
		b = binary.LittleEndian.AppendUint32(b, a)
	}
	return b
}

// fuzzCall runs one fuzz input and fails the test if the host panicked (a Go runtime error
// recovered by wazero) or answered with anything but success, a Go Micro error, or a guest
// fault that says what the guest did wrong. Then the module must still serve a good call.
func fuzzCall(t *testing.T, m *Module, op uint32, stream bool, args [8]uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := &Request{Endpoint: "Fuzz.Call", ContentType: "application/json", Header: map[string]string{"X-A": "b"},
		Body: fuzzBody(op%fuzzImports, args)}
	if stream {
		req.Stream = &fuzzStream{}
	}
	_, err := m.Call(ctx, req)
	if err != nil {
		msg := err.Error()
		var ae *abi.Error
		var fault abiFault
		switch {
		case strings.Contains(msg, "runtime error") || strings.Contains(msg, "goroutine "):
			t.Fatalf("import %d %v: the host panicked: %v", op%fuzzImports, args, err)
		case errors.As(err, &ae):
		case errors.As(err, &fault):
			require.Contains(t, msg, "ABI violation", "import %d %v", op%fuzzImports, args)
		case errors.Is(err, ErrGuestFault) && strings.Contains(msg, "wasm error"):
		default:
			t.Fatalf("import %d %v: unexpected error: %v", op%fuzzImports, args, err)
		}
	}
	// The module keeps serving: a call that reads its own body into a good buffer.
	_, err = m.Call(ctx, &Request{Endpoint: "Fuzz.Call", Body: fuzzBody(1, [8]uint32{2048, 64})})
	require.NoError(t, err, "after import %d %v", op%fuzzImports, args)
}

// fuzzValue draws a pointer or a length: mostly values around the guest's memory bounds (one
// page), some anywhere.
func fuzzValue(r *rand.Rand) uint32 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return uint32(r.IntN(64))
	case 2:
		return uint32(r.IntN(65536))
	case 3:
		return 65536 - uint32(r.IntN(64))
	case 4:
		return 65536 + uint32(r.IntN(64))
	case 5:
		return 0xffffffff - uint32(r.IntN(64))
	case 6:
		return 0x7fffffff + uint32(r.IntN(3))
	}
	return r.Uint32()
}

// FuzzHostImports calls every host import of the fuzz guest with the pointers and lengths
// the fuzzer chooses. The seed corpus, run by every `go test`, is drawn from a seeded PRNG:
// 48 inputs per import, with and without a stream.
func FuzzHostImports(f *testing.F) {
	r := rand.New(rand.NewPCG(15, 8))
	for op := range uint32(fuzzImports) {
		for i := range 48 {
			var a [8]uint32
			for k := range a {
				a[k] = fuzzValue(r)
			}
			f.Add(op, i%2 == 0, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
		}
	}
	m := loadFuzzTarget(f)
	f.Fuzz(func(t *testing.T, op uint32, stream bool, a0, a1, a2, a3, a4, a5, a6, a7 uint32) {
		fuzzCall(t, m, op, stream, [8]uint32{a0, a1, a2, a3, a4, a5, a6, a7})
	})
}
