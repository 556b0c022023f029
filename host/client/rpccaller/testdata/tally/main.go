// Command tally is a handler module for host/client/rpccaller's end-to-end test: the Tally
// service of tally.proto, served through the code protoc-gen-microhost generated in
// tallypb, with one method of each streaming kind.
package main

import (
	"errors"
	"io"

	"github.com/microhost/microhost/abi/guest"
	pb "github.com/microhost/microhost/host/client/rpccaller/testdata/tally/tallypb"
)

// maxCount bounds Count's "to".
const maxCount = 1_000_000

// Tally serves the Tally service.
type Tally struct{}

// Count streams 1 … req.To, failing with a 409 after req.FailAfter numbers when it is set.
func (Tally) Count(req *pb.CountRequest, stream pb.Tally_CountStream) error {
	if req.To < 0 || req.To > maxCount {
		return guest.BadRequest("to must be between 0 and %d, got %d", maxCount, req.To)
	}
	for n := int64(1); n <= req.To; n++ {
		if req.FailAfter > 0 && n > req.FailAfter {
			return guest.Errorf(409, "failing after %d numbers, as asked", req.FailAfter)
		}
		if err := stream.Send(&pb.Number{N: n}); err != nil {
			return err
		}
	}
	return nil
}

// Sum answers the sum and the count of the numbers it receives.
func (Tally) Sum(stream pb.Tally_SumStream) error {
	total := new(pb.Total)
	for {
		num, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(total)
		}
		if err != nil {
			return err
		}
		total.Sum += num.N
		total.Count++
	}
}

// Running answers each number with the running sum and count.
func (Tally) Running(stream pb.Tally_RunningStream) error {
	total := new(pb.Total)
	for {
		num, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		total.Sum += num.N
		total.Count++
		if err := stream.Send(total); err != nil {
			return err
		}
	}
}

func init() {
	guest.Describe("tally", "1.0.0")
	pb.RegisterTallyHandler(Tally{})
}

func main() {}
