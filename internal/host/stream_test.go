package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// loadCounter loads the streaming example handler built at path.
func loadCounter(t *testing.T, path string, opts ModuleOptions) *Module {
	t.Helper()
	return load(t, newRuntime(t, nil), path, opts)
}

// TestStreamImports drives stream_send and stream_recv through the Go SDK of the counter
// example, over a fake stream.
func TestStreamImports(t *testing.T) {
	path, err := guestbuild.Go(context.Background(), "./handlers/counter", t.TempDir())
	require.NoError(t, err)
	t.Run("echo", func(t *testing.T) { testStreamEcho(t, loadCounter(t, path, ModuleOptions{})) })
	t.Run("count", func(t *testing.T) { testStreamCount(t, loadCounter(t, path, ModuleOptions{})) })
	t.Run("not a stream", func(t *testing.T) { testNotAStream(t, loadCounter(t, path, ModuleOptions{})) })
	t.Run("send fails", func(t *testing.T) { testSendFailure(t, loadCounter(t, path, ModuleOptions{})) })
	for _, interrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("recv deadline interrupt=%v", interrupt), func(t *testing.T) {
			testRecvDeadline(t, loadCounter(t, path, ModuleOptions{InterruptOnDeadline: interrupt}))
		})
	}
}

// fakeStream is a host.Stream fed from a list, recording what the handler sends.
type fakeStream struct {
	mu       sync.Mutex
	in       [][]byte
	out      [][]byte
	failSend int // Send fails from this message on (1-based); 0 never
	sends    int
	block    bool // Recv waits for the context
	deadline bool // the contexts carried a deadline
}

func (f *fakeStream) Send(ctx context.Context, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, f.deadline = ctx.Deadline()
	f.sends++
	if f.failSend > 0 && f.sends >= f.failSend {
		return errors.New("connection reset by peer")
	}
	f.out = append(f.out, bytes.Clone(body))
	return nil
}

func (f *fakeStream) Recv(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	_, f.deadline = ctx.Deadline()
	if f.block {
		f.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	defer f.mu.Unlock()
	if len(f.in) == 0 {
		return nil, io.EOF
	}
	msg := f.in[0]
	f.in = f.in[1:]
	return msg, nil
}

func testStreamEcho(t *testing.T, m *Module) {
	big := bytes.Repeat([]byte("x"), 10000) // over the SDK's 4 KiB buffer: stays pending
	fs := &fakeStream{in: [][]byte{[]byte(`{"a":1}`), big, {}, []byte(`{"b":2}`)}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := m.Call(ctx, &Request{Endpoint: "Counter.Echo", ContentType: "application/json", Body: []byte(`{"first":true}`), Stream: fs})
	require.NoError(t, err)
	assert.Empty(t, res.Body)
	assert.Equal(t, [][]byte{[]byte(`{"first":true}`), []byte(`{"a":1}`), big, {}, []byte(`{"b":2}`)}, fs.out)
	assert.True(t, fs.deadline, "the stream got the call's own context")
}

func testStreamCount(t *testing.T, m *Module) {
	fs := &fakeStream{}
	_, err := m.Call(context.Background(), &Request{Endpoint: "Counter.Count", Body: []byte(`{"count":1000}`), Stream: fs})
	require.NoError(t, err)
	require.Len(t, fs.out, 1000)
	assert.Equal(t, `{"n":1}`, string(fs.out[0]))
	assert.Equal(t, `{"n":1000}`, string(fs.out[999]))
}

func testNotAStream(t *testing.T, m *Module) {
	_, err := m.Call(context.Background(), &Request{Endpoint: "Counter.Count", Body: []byte(`{"count":2}`)})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(400), ae.Code)
	assert.Contains(t, ae.Detail, "not a stream")
	_, err = m.Call(context.Background(), &Request{Endpoint: "Counter.Echo"})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(499), ae.Code, "stream_recv outside a stream fails")
}

func testSendFailure(t *testing.T, m *Module) {
	fs := &fakeStream{failSend: 4}
	_, err := m.Call(context.Background(), &Request{Endpoint: "Counter.Count", Body: []byte(`{"count":1000000}`), Stream: fs})
	var ae *abi.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int32(499), ae.Code)
	assert.Contains(t, ae.Detail, "client is gone")
	assert.Equal(t, 4, fs.sends, "the handler stopped at the first failed send")
	assert.Len(t, fs.out, 3)

	// The instance is healthy: it serves the next stream.
	fs = &fakeStream{}
	_, err = m.Call(context.Background(), &Request{Endpoint: "Counter.Count", Body: []byte(`{"count":2}`), Stream: fs})
	require.NoError(t, err)
	assert.Len(t, fs.out, 2)
}

func testRecvDeadline(t *testing.T, m *Module) {
	fs := &fakeStream{block: true}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Call(ctx, &Request{Endpoint: "Counter.Echo", Stream: fs})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "stream_recv returned at the deadline")
	// The module keeps serving.
	fs = &fakeStream{in: [][]byte{[]byte("1")}}
	_, err = m.Call(context.Background(), &Request{Endpoint: "Counter.Echo", Stream: fs})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("1")}, fs.out)
}

func TestStreamImportsListed(t *testing.T) {
	names := HostFunctionNames()
	assert.Contains(t, names, abi.ImportStreamSend)
	assert.Contains(t, names, abi.ImportStreamRecv)
}
