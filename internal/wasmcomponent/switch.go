package wasmcomponent

import (
	"context"
	"sync/atomic"
)

// Switch holds what a component runs on — its native twin, or the kind's adapter over its
// module — and changes it while calls run: the native-twin side of a live swap. A call
// takes the current implementation for its whole duration (Acquire, then Release); Set makes
// another current at once, and a module that is no longer current is closed when its last
// call in flight returns. (A module's own file swaps, module to module, happen inside the
// Module; a Switch only changes between a twin and a module.) It is safe for concurrent use.
type Switch[T any] struct {
	cur    atomic.Pointer[Held[T]]
	closed atomic.Bool
}

// Held is one implementation a Switch serves or served, counted: one reference for being
// current and one per call in flight.
type Held[T any] struct {
	v    T
	m    *Module // nil for a native twin
	refs atomic.Int64
}

// Value returns the implementation.
func (h *Held[T]) Value() T { return h.v }

// Release ends the call that acquired h; a module no longer current is closed by the last.
func (h *Held[T]) Release() {
	if h.refs.Add(-1) == 0 && h.m != nil {
		_ = h.m.Close(context.Background())
	}
}

// NewSwitch returns a Switch serving v: a native twin when m is nil, else the adapter over
// m, which the Switch then owns.
func NewSwitch[T any](v T, m *Module) *Switch[T] {
	s := &Switch[T]{}
	s.cur.Store(newHeld(v, m))
	return s
}

func newHeld[T any](v T, m *Module) *Held[T] {
	h := &Held[T]{v: v, m: m}
	h.refs.Store(1)
	return h
}

// Acquire takes the current implementation for one call, which ends with Release; it
// returns nil once the Switch is closed and its last implementation released.
func (s *Switch[T]) Acquire() *Held[T] {
	for {
		h := s.cur.Load()
		n := h.refs.Load()
		if n == 0 {
			if s.cur.Load() == h {
				return nil
			}
			continue // swapped out and drained meanwhile: take the one now current
		}
		if h.refs.CompareAndSwap(n, n+1) {
			return h
		}
	}
}

// Set makes v current — a native twin when m is nil, else the adapter over m, which the
// Switch then owns — and releases the one it replaces. On a closed Switch it closes m.
func (s *Switch[T]) Set(v T, m *Module) {
	if s.closed.Load() {
		if m != nil {
			_ = m.Close(context.Background())
		}
		return
	}
	s.cur.Swap(newHeld(v, m)).Release()
}

// Module returns the module serving now, or nil when the native twin does.
func (s *Switch[T]) Module() *Module { return s.cur.Load().m }

// Close releases the current implementation; a module is closed once its calls in flight
// have returned. It is safe to call more than once.
func (s *Switch[T]) Close() {
	if s.closed.CompareAndSwap(false, true) {
		s.cur.Load().Release()
	}
}

// Auto is a component in mode auto, as its kind's loader hands it to the service: the
// service runs it on its native twin or on its module, as the file at Spec.Path says, and
// changes between them live when the file changes.
type Auto struct {
	// Spec loads the module (Kind, Name, Path, Ops, Options).
	Spec Spec
	// Module returns the module serving now, or nil when the native twin does.
	Module func() *Module
	// UseNative makes the native twin current; a module serving before is closed once
	// drained.
	UseNative func()
	// UseModule makes the kind's adapter over m current, or refuses m (closing nothing)
	// when the kind cannot serve from it — a codec module that no longer serves a content
	// type the service registered, say.
	UseModule func(m *Module) error
	// Close releases whatever serves now.
	Close func()
}

// NewAuto returns the Auto of a component served through sw, whose native twin is twin and
// whose adapter over a module is adapt.
func NewAuto[T any](spec Spec, sw *Switch[T], twin T, adapt func(*Module) (T, error)) Auto {
	return Auto{
		Spec:      spec,
		Module:    sw.Module,
		UseNative: func() { sw.Set(twin, nil) },
		UseModule: func(m *Module) error {
			v, err := adapt(m)
			if err != nil {
				return err
			}
			sw.Set(v, m)
			return nil
		},
		Close: sw.Close,
	}
}
