//go:build !wasip1

package guest

import "io"

// Stream is the stream the current request opened (see HandleStream). In native builds it
// is driven by DispatchStream.
type Stream struct {
	in  [][]byte
	out [][]byte
	ok  bool
}

// dispatching is the stream DispatchStream serves; nil when Dispatch serves a unary call.
var dispatching *Stream

func requestStream() *Stream {
	if dispatching == nil {
		return &Stream{}
	}
	return dispatching
}

// Send records one message for DispatchStream to return.
func (s *Stream) Send(msg []byte) error {
	if !s.ok {
		return streamError("send", 400)
	}
	s.out = append(s.out, append([]byte{}, msg...))
	return nil
}

// Recv returns the next of DispatchStream's messages, then io.EOF.
func (s *Stream) Recv() ([]byte, error) {
	if !s.ok {
		return nil, streamError("receive", 400)
	}
	if len(s.in) == 0 {
		return nil, io.EOF
	}
	msg := s.in[0]
	s.in = s.in[1:]
	return msg, nil
}

// DispatchStream calls the streaming handler registered for endpoint as the host would for a
// stream opened with body, whose client then sends the messages in and closes its side. It
// returns the messages the handler sent, and its error. It exists only in non-Wasm builds,
// for unit tests, which must not run it in parallel with each other.
func DispatchStream(endpoint string, body []byte, headers map[string]string, in [][]byte) ([][]byte, *Error) {
	s := &Stream{in: in, ok: true}
	dispatching = s
	defer func() { dispatching = nil }()
	_, err := Dispatch(endpoint, body, headers)
	return s.out, err
}
