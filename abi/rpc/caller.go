package rpc

import (
	"context"
	"fmt"

	"github.com/microhost/microhost/abi/guest"
)

// GuestCaller is the Caller of code running inside a handler module: it calls through the
// host's service-to-service call import (guest.Call), so the call is bounded by the current
// request's deadline and carries its metadata. A failure is a *guest.Error with the code and
// detail of the remote handler or of the host's client. Use it only while a request is
// being handled:
//
//	greeter := greeterpb.NewGreeterClient("greeter", rpc.GuestCaller{})
//
// It cannot open streams: the ABI gives a module no import for an outbound stream, so a
// generated client's streaming methods fail with 501 inside a module (see Stream).
type GuestCaller struct{}

// Call checks ctx, then calls endpoint of service through the host.
func (GuestCaller) Call(ctx context.Context, service, endpoint, contentType string, body []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return guest.Call(service, endpoint, contentType, body)
}

// statusNotImplemented is HTTP's 501 Not Implemented, the code of GuestCaller.Stream.
const statusNotImplemented = 501

// Stream always fails with a 501 *guest.Error: streams from inside a module are not
// supported, as the host offers no import to open one (a module serves streams, through
// HandleServerStream and HandleStream, but cannot start them).
func (GuestCaller) Stream(_ context.Context, service, endpoint, _ string, _ []byte) (RawStream, error) {
	return nil, &guest.Error{Code: statusNotImplemented, Detail: fmt.Sprintf("stream %s of %s: streams from inside a module are not supported: the host has no import to open one", endpoint, service)}
}
