package selector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// wasmSelector is a selector module seen through component.Selector.
type wasmSelector struct {
	m *wasmcomponent.Module
	// bufs recycles the buffers the inputs are encoded into (*[]byte).
	bufs *sync.Pool
}

// NewWasm returns the component.Selector that runs operation "select" of the selector
// module m (abi/selector.md): the module's 404 error becomes component.ErrNoNodes, its 503
// component.ErrNoneAvailable, and an index out of range an error.
func NewWasm(m *wasmcomponent.Module) component.Selector {
	return wasmSelector{m: m, bufs: &sync.Pool{}}
}

// Select implements component.Selector.
func (w wasmSelector) Select(ctx context.Context, in *component.Selection) (int, error) {
	buf, _ := w.bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	*buf = component.AppendSelection((*buf)[:0], in)
	out, err := w.m.Call(ctx, component.OpSelect, *buf)
	w.bufs.Put(buf)
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
