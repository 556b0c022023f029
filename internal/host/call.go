package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/telemetry"
)

// Request is one call into a handler module.
type Request struct {
	// Endpoint is "Service.Method".
	Endpoint string
	// ContentType is the body's content type; guests read it as the "Content-Type" header.
	ContentType string
	// Header holds the caller's metadata; guests look keys up case-insensitively.
	Header map[string]string
	// Fields, when Header is nil, is the caller's metadata read where it lies (the server
	// passes the transport's header fields so), so that a call builds no map for it.
	Fields Metadata
	// Body is the request body.
	Body []byte
	// ReplyTo, when not nil, is where the reply body goes: appended to it, so that a caller
	// with room in a buffer of its own gets the body there without an allocation.
	// Response.Body is then that append's result (ReplyTo itself when the reply has no
	// body). Nil means a new slice.
	ReplyTo []byte
	// Stream is set when the request opened a stream: Body is the client's first message,
	// and the handler sends and receives the others through the stream_send and stream_recv
	// host functions (stream.go). Nil for a unary call.
	Stream Stream
}

// Response is a handler's answer.
type Response struct {
	// Header holds the metadata the handler set.
	Header map[string]string
	// Body is the reply body.
	Body []byte
}

// Call runs req on a warm instance. A handler's own error comes back as an *abi.Error with
// the handler's code (ID left empty for the caller to fill); a guest fault comes back as an
// error wrapping ErrGuestFault, and the instance that faulted is replaced.
func (m *Module) Call(ctx context.Context, req *Request) (*Response, error) {
	if m.obs == nil {
		return m.call(ctx, req)
	}
	ctx, obs := m.obs.Start(ctx, req.Endpoint)
	res, err := m.call(ctx, req)
	switch {
	case err == nil:
		obs.End(telemetry.OK, nil)
	case errors.Is(err, ErrGuestFault) && ctx.Err() != nil:
		obs.End(telemetry.Stopped, err)
	case errors.Is(err, ErrGuestFault):
		obs.End(telemetry.Trapped, err)
	default:
		obs.End(telemetry.Failed, err)
	}
	return res, err
}

func (m *Module) call(ctx context.Context, req *Request) (*Response, error) {
	inst, err := m.acquire(ctx)
	if err != nil {
		return nil, err
	}
	inst.call.req = req
	inst.call.ctx = ctx
	inst.stack[0] = uint64(len(req.Endpoint))
	inst.stack[1] = uint64(len(req.Body))
	callErr := inst.handle.CallWithStack(inst.callContext(ctx, m.opts.InterruptOnDeadline), inst.stack)
	if callErr != nil {
		m.discard(ctx, inst)
	}
	if callErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w: %s stopped: %w", ErrGuestFault, req.Endpoint, ctxErr)
		}
		m.logger.Warn("guest fault; instance replaced", "endpoint", req.Endpoint, "err", callErr)
		return nil, fmt.Errorf("%w: %s: %w", ErrGuestFault, req.Endpoint, callErr)
	}
	st := &inst.call
	status := uint32(inst.stack[0])
	var res *Response
	switch {
	case st.headerErr != nil:
		err = st.headerErr
	case status == abi.StatusOK && st.err == nil:
		body := st.rspBody
		if body == nil { // no reply body: ReplyTo as it was
			body = req.ReplyTo
		}
		res = &Response{Header: st.rspHeader, Body: body}
		err = nil
	case st.err != nil:
		err = st.err
	default:
		err = abi.NewError("", 500, "%s failed with status %d", req.Endpoint, status)
	}
	m.release(inst)
	return res, err
}

// callState is what the host functions see of the call in progress on an instance: the
// call itself, and one piece per host capability, each defined beside the host functions
// that use it (its fields promoted here, so a host function reads s.rspBody, s.callResult…).
type callState struct {
	// ctx is the call's real context, with its deadline and cancellation, for host
	// functions that call out.
	ctx    context.Context
	logger *slog.Logger
	req    *Request
	// module is the module's name, grants its grants (grants.go).
	module string
	grants *Grants
	replyState
	callOutState
	publishState
	streamState
	outboundState
	logState
}

// reset forgets the call, keeping each capability's settings.
func (s *callState) reset() {
	s.ctx = nil
	s.req = nil
	s.replyState.reset()
	s.callOutState.reset()
	s.streamState.reset()
	s.outboundState.reset()
	s.logState.reset()
}

type callKey struct{}

func withCall(ctx context.Context, s *callState) context.Context {
	return &callCtx{Context: ctx, state: s}
}

// callContext returns the context for a call on inst. When wazero watches the context for
// deadlines (interrupt is on), each call gets a fresh one, because wazero's watcher of the
// previous call may still read it. Otherwise nothing outlives the call's use of the context,
// so the instance's own is reused and a call allocates no context.
func (inst *instance) callContext(ctx context.Context, interrupt bool) context.Context {
	if interrupt {
		return withCall(ctx, &inst.call)
	}
	inst.ctx.Context = ctx
	return &inst.ctx
}

// callCtx is the context a guest call runs under: the call's own context plus the call
// state for the host functions. When the module interrupts on deadlines, wazero watches its
// Done channel and stops the guest when it closes.
type callCtx struct {
	context.Context
	state *callState
}

// Value returns the call state for callKey and asks the parent otherwise.
func (c *callCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c.state
	}
	return c.Context.Value(key)
}

func callFrom(ctx context.Context) *callState {
	s, _ := ctx.Value(callKey{}).(*callState)
	return s
}

// abiFault is the panic value host functions use to fail the call when the guest breaks the
// ABI; wazero turns it into an error from the guest call.
type abiFault struct{ msg string }

func (f abiFault) Error() string { return "ABI violation: " + f.msg }

// deadlineStop is the panic value that ends a guest whose call's context is done while it
// waits in a host function (a sleep, a service call, a publication, an outbound request, a
// stream): the guest never runs another instruction of that call, whether or not the module
// interrupts running code on deadlines, and its instance is replaced.
type deadlineStop struct{ err error }

func (d deadlineStop) Error() string { return "stopped at its deadline: " + d.err.Error() }

// stopIfDone ends the guest (see deadlineStop) when the call's context is done.
func (s *callState) stopIfDone() {
	if s.ctx == nil {
		return
	}
	if err := s.ctx.Err(); err != nil {
		panic(deadlineStop{err: err})
	}
}

// sleep is the instance's WASI clock sleep: it returns after ns nanoseconds, or stops the
// guest (see deadlineStop) as soon as the current call's context is done.
func (s *callState) sleep(ns int64) {
	ctx := s.ctx
	if ctx == nil {
		time.Sleep(time.Duration(ns))
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(deadlineStop{err: ctx.Err()})
	}
}

func fault(format string, args ...any) {
	panic(abiFault{msg: fmt.Sprintf(format, args...)})
}

// read returns a view of n guest bytes at ptr, or faults the call.
func read(mod api.Module, what string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		fault("%s: %d bytes at %#x are outside the guest's memory (%d bytes)", what, n, ptr, mod.Memory().Size())
	}
	return b
}

// copyOut writes src to guest memory at buf if it fits in capacity, and returns src's length
// so a guest can ask with capacity 0 and call again with a buffer big enough.
func copyOut(mod api.Module, what string, buf, capacity uint32, src []byte) uint32 {
	n := uint32(len(src))
	if n <= capacity && n > 0 {
		if !mod.Memory().Write(buf, src) {
			fault("%s: %d bytes at %#x are outside the guest's memory (%d bytes)", what, n, buf, mod.Memory().Size())
		}
	}
	return n
}

// Metadata is a request's metadata read in place.
type Metadata interface {
	// Get returns the value of key: of the field named exactly key, else of the first whose
	// name matches it case-insensitively.
	Get(key string) (string, bool)
	// All yields each key and its value, once per key (the first of repeated ones).
	All() iter.Seq2[string, string]
}

// metadataOf yields req's metadata, from Header or Fields.
func metadataOf(req *Request) iter.Seq2[string, string] {
	if req.Header == nil && req.Fields != nil {
		return req.Fields.All()
	}
	return maps.All(req.Header)
}

// lookupHeader finds key case-insensitively; Content-Type comes from the request itself.
func lookupHeader(req *Request, key string) (string, bool) {
	if strings.EqualFold(key, "Content-Type") {
		return req.ContentType, req.ContentType != ""
	}
	if req.Header == nil && req.Fields != nil {
		return req.Fields.Get(key)
	}
	if v, ok := req.Header[key]; ok {
		return v, true
	}
	for k, v := range req.Header {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// logWriter turns guest stdout/stderr into log records, one per line, within the call's
// log caps (see callState.emitLog).
type logWriter struct {
	state  *callState
	level  slog.Level
	stream string
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.state.emitLog(w.level, w.buf[:i], "stream", w.stream)
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.state.emitLog(w.level, w.buf, "stream", w.stream)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
