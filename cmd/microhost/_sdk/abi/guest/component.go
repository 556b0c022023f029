package guest

import (
	"errors"

	"github.com/microhost/microhost/abi"
)

// Component is a component module's logic — a codec, selector, transport framer, broker
// protocol or registry — as ServeComponent serves it: its kind and name, and one function per
// operation of its kind (abi/<kind>.md).
type Component struct {
	// Kind is the component kind, such as abi.KindSelector.
	Kind string
	// Name is the name the module declares; the host checks it against the slot's name.
	Name string
	// Version is the module's own version; empty means "1.0.0".
	Version string
	// Ops are the operations it serves.
	Ops []Op
}

// Op is one operation of a component: its name, the metadata its descriptor entry carries
// (a codec's content_types), and what it does with its input record. An error from Do that
// is (or wraps) an *Error or an *abi.Error reaches the host with its code; any other error is
// a 500. The host copies the answer Do returns before the call ends, so Do may write the next
// answer over the same storage.
type Op struct {
	Name     string
	Metadata map[string]string
	Do       func(in []byte) ([]byte, error)
}

// ServeComponent registers c: its descriptor and each operation, called with the operation's
// name as the endpoint and its input record as the body. It is the one entry point of every
// Go component module; call it from init.
func ServeComponent(c Component) {
	version := c.Version
	if version == "" {
		version = "1.0.0"
	}
	DescribeKind(c.Kind, c.Name, version)
	for _, op := range c.Ops {
		do := op.Do
		HandleEndpoint(abi.Endpoint{Name: op.Name, Metadata: op.Metadata}, func(req *Request) ([]byte, error) {
			out, err := do(req.Body)
			if err == nil {
				return out, nil
			}
			var ae *abi.Error
			if errors.As(err, &ae) && !errors.As(err, new(*Error)) {
				return nil, &Error{Code: ae.Code, Detail: ae.Detail}
			}
			return nil, err
		})
	}
}
