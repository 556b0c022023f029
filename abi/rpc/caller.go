package rpc

import (
	"context"

	"github.com/microhost/microhost/abi/guest"
)

// GuestCaller is the Caller of code running inside a handler module: it calls through the
// host's service-to-service call import (guest.Call), so the call is bounded by the current
// request's deadline and carries its metadata. A failure is a *guest.Error with the code and
// detail of the remote handler or of the host's client. Use it only while a request is
// being handled:
//
//	greeter := greeterpb.NewGreeterClient("greeter", rpc.GuestCaller{})
type GuestCaller struct{}

// Call checks ctx, then calls endpoint of service through the host.
func (GuestCaller) Call(ctx context.Context, service, endpoint, contentType string, body []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return guest.Call(service, endpoint, contentType, body)
}
