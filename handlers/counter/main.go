// Command counter is the streaming example handler module:
//
//   - Counter.Count (server-side streaming) takes {"count":N} and streams N messages,
//     {"n":1} … {"n":N}, back. With "fail_after":K it fails with a 409 error after K
//     messages, to show how an error ends a stream.
//   - Counter.Echo (bidirectional) sends back every message it receives, the opening one
//     included when it is not empty, until the client closes its side.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm ./handlers/counter
package main

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/microhost/microhost/abi/guest"
)

// maxCount bounds Counter.Count's N.
const maxCount = 1_000_000

// CountRequest is Counter.Count's request.
type CountRequest struct {
	// Count is how many messages to send.
	Count int `json:"count"`
	// FailAfter, when positive, makes the handler fail after this many messages.
	FailAfter int `json:"fail_after,omitempty"`
}

// count streams {"n":1} … {"n":N}.
func count(req *guest.Request, s *guest.Stream) error {
	var in CountRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return guest.BadRequest("malformed JSON request for %s: want {\"count\":N}", req.Endpoint)
	}
	if in.Count < 0 || in.Count > maxCount {
		return guest.BadRequest("count must be between 0 and %d, got %d", maxCount, in.Count)
	}
	msg := make([]byte, 0, 32)
	for n := 1; n <= in.Count; n++ {
		if in.FailAfter > 0 && n > in.FailAfter {
			return guest.Errorf(409, "failing after %d messages, as asked", in.FailAfter)
		}
		msg = append(strconv.AppendInt(append(msg[:0], `{"n":`...), int64(n), 10), '}')
		if err := s.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// echo sends back every message until the client closes its side.
func echo(req *guest.Request, s *guest.Stream) error {
	if len(req.Body) > 0 {
		if err := s.Send(req.Body); err != nil {
			return err
		}
	}
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(msg); err != nil {
			return err
		}
	}
}

func init() {
	guest.Describe("counter", "1.0.0")
	guest.HandleStream("Counter.Count", count)
	guest.HandleStream("Counter.Echo", echo)
}

func main() {}
