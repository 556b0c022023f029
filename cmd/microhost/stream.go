package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/transport"
)

// callStream runs `microhost call --stream`: it opens the stream with open, sends the
// messages and prints every message the service sends on its own line until the stream
// ends. Without bidi the stream carries body alone; with bidi every non-blank JSON line of
// stdin is a message (the first one opens the stream) and the end of stdin closes the
// sending side.
func callStream(open func(body []byte) (*client.Stream, error), body []byte, bidi bool, stdin io.Reader, stdout io.Writer) error {
	var lines *bufio.Scanner
	if bidi {
		lines = bufio.NewScanner(stdin)
		lines.Buffer(make([]byte, 0, 64<<10), 4<<20)
		first, err := nextLine(lines)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		body = first
	}
	s, err := open(body)
	if err != nil {
		return err
	}
	defer s.Close()
	sent := make(chan error, 1)
	if bidi {
		go func() { sent <- sendLines(s, lines) }()
	} else {
		sent <- s.CloseSend()
	}
	out := bufio.NewWriter(stdout)
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A bad line of stdin breaks the stream off: report that rather than the break.
			select {
			case serr := <-sent:
				if serr != nil {
					return serr
				}
			default:
			}
			return err
		}
		out.Write(msg)
		out.WriteByte('\n')
		if err := out.Flush(); err != nil {
			return err
		}
	}
	// The service may end the stream before stdin ends; then what is left unread is moot.
	select {
	case err := <-sent:
		return err
	default:
		return nil
	}
}

// sendLines sends each remaining JSON line as a message, then closes the sending side. A
// line that is not JSON breaks the stream off.
func sendLines(s *client.Stream, lines *bufio.Scanner) error {
	for {
		line, err := nextLine(lines)
		if errors.Is(err, io.EOF) {
			return s.CloseSend()
		}
		if err != nil {
			s.Close()
			return err
		}
		if err := s.Send(line); err != nil {
			if errors.Is(err, transport.ErrStreamClosed) {
				return nil // the service ended the stream first
			}
			return err
		}
	}
}

// nextLine returns the next non-blank line, checked to be JSON, or io.EOF.
func nextLine(lines *bufio.Scanner) ([]byte, error) {
	for lines.Scan() {
		line := bytes.TrimSpace(lines.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, usageError("a line of stdin is not valid JSON: %s", line)
		}
		return bytes.Clone(line), nil
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return nil, io.EOF
}
