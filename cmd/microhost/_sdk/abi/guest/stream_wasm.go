//go:build wasip1

package guest

import (
	"io"
	"unsafe"

	"github.com/microhost/microhost/abi"
)

//go:wasmimport microhost stream_send
func hostStreamSend(ptr unsafe.Pointer, length uint32) int32

//go:wasmimport microhost stream_recv
func hostStreamRecv(buf unsafe.Pointer, capacity uint32) int32

// Stream is the stream the current request opened (see HandleStream). A handler uses it
// only while it runs.
type Stream struct {
	// scratch receives messages before they are copied out at their size.
	scratch []byte
}

// stream is the one stream of the one request an instance serves at a time.
var stream Stream

func requestStream() *Stream { return &stream }

// Send sends one message to the client, which gets it at once. It fails with an *Error: 400
// when the request is not a stream, 408 once the deadline passed, 499 when the client is
// gone; the handler should then return.
func (s *Stream) Send(msg []byte) error {
	if code := hostStreamSend(unsafe.Pointer(unsafe.SliceData(msg)), uint32(len(msg))); code != 0 {
		return streamError("send", code)
	}
	return nil
}

// Recv waits for the client's next message and returns it; the slice is the caller's. It
// returns io.EOF once the client has closed its side, and an *Error when no message can
// come (the request is not a stream, the client is gone or the deadline passed).
func (s *Stream) Recv() ([]byte, error) {
	if s.scratch == nil {
		s.scratch = make([]byte, 4096)
	}
	n := hostStreamRecv(unsafe.Pointer(&s.scratch[0]), uint32(len(s.scratch)))
	switch {
	case n == abi.StreamEnd:
		return nil, io.EOF
	case n < 0:
		return nil, &Error{Code: 499, Detail: "stream: receive: no message can come (the client is gone or the deadline passed)"}
	case int(n) <= len(s.scratch):
		return append([]byte{}, s.scratch[:n]...), nil
	}
	// Too big for the scratch buffer: the message stays pending, so ask again with room.
	msg := make([]byte, n)
	if m := hostStreamRecv(unsafe.Pointer(&msg[0]), uint32(n)); m != n {
		return nil, &Error{Code: 500, Detail: "stream: receive: the pending message changed"}
	}
	return msg, nil
}
