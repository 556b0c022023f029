package selector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// wasmSelector is a selector module seen through component.Selector.
type wasmSelector struct {
	m *wasmcomponent.Module
	// bufs recycles the buffers the inputs are encoded into (*[]byte).
	bufs *sync.Pool
	// sent holds the ids of the node lists sent in full to a module that keeps lists: those
	// are named without their nodes from then on.
	sent *sentLists
}

// sentLists is a bounded set of node list ids, with a count of the selections sent without
// their nodes.
type sentLists struct {
	mu  sync.Mutex
	ids map[uint64]struct{}
	// named counts the selections sent without their nodes; tests read it.
	named atomic.Int64
}

// maxSentLists bounds sentLists; past it the set starts over, which costs one full send per
// list.
const maxSentLists = 4096

func (s *sentLists) has(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *sentLists) add(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil || len(s.ids) >= maxSentLists {
		s.ids = map[uint64]struct{}{}
	}
	s.ids[id] = struct{}{}
}

// NewWasm returns the component.Selector that runs operation "select" of the selector
// module m (abi/selector.md): the module's 404 error becomes component.ErrNoNodes, its 503
// component.ErrNoneAvailable, and an index out of range an error. When the module declares
// that it keeps node lists, a list it was sent once is named by its id without the nodes, and
// its 409 (it does not hold the list: another instance, or a module swapped in since) has
// the list sent again in full.
func NewWasm(m *wasmcomponent.Module) component.Selector {
	return wasmSelector{m: m, bufs: &sync.Pool{}, sent: &sentLists{}}
}

// keepsLists reports whether the module now serving declares SelectListsMetadata.
func (w wasmSelector) keepsLists() bool {
	for _, e := range w.m.Descriptor().Endpoints {
		if e.Name == component.OpSelect {
			return e.Metadata[component.SelectListsMetadata] != ""
		}
	}
	return false
}

// Select implements component.Selector.
func (w wasmSelector) Select(ctx context.Context, in *component.Selection) (int, error) {
	buf, _ := w.bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer w.bufs.Put(buf)
	lists := in.List != 0 && w.keepsLists()
	if lists && w.sent.has(in.List) {
		*buf = component.AppendSelectionWithoutNodes((*buf)[:0], in)
		w.sent.named.Add(1)
		out, err := w.m.Call(ctx, component.OpSelect, *buf)
		if ae := (*abi.Error)(nil); !errors.As(err, &ae) || ae.Code != http.StatusConflict {
			return w.answer(in, out, err)
		}
	}
	*buf = component.AppendSelection((*buf)[:0], in)
	out, err := w.m.Call(ctx, component.OpSelect, *buf)
	if lists && err == nil {
		w.sent.add(in.List)
	}
	return w.answer(in, out, err)
}

// answer reads the module's reply to a select call.
func (w wasmSelector) answer(in *component.Selection, out []byte, err error) (int, error) {
	if err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			switch ae.Code {
			case http.StatusNotFound:
				return -1, fmt.Errorf("%w (selector %s: %s)", component.ErrNoNodes, w.m.Name(), ae.Detail)
			case http.StatusServiceUnavailable:
				return -1, fmt.Errorf("%w (selector %s: %s)", component.ErrNoneAvailable, w.m.Name(), ae.Detail)
			}
			return -1, fmt.Errorf("selector %s: %w", w.m.Name(), err)
		}
		return -1, err
	}
	i, err := component.DecodeSelectIndex(out, len(in.Nodes))
	if err != nil {
		return -1, fmt.Errorf("selector %s: %w", w.m.Name(), err)
	}
	return i, nil
}
