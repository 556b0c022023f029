package rpc

import (
	"fmt"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

// Serve is the body of every generated handler endpoint: it decodes r's body into req by
// r's Content-Type (see IsProtobuf), runs call, which fills rsp, and encodes rsp in the same
// content type. A body that does not decode is answered with a 400 error whose detail is
// "malformed JSON request for ENDPOINT" or "malformed protobuf request for ENDPOINT"; the
// decoder's own message goes to the host's log at debug level. An error call returns is
// returned as it is.
func Serve(r *guest.Request, req, rsp Message, call func() error) ([]byte, error) {
	ct, _ := r.Header("Content-Type")
	if IsProtobuf(ct) {
		if err := req.MicrohostDecodeProto(r.Body); err != nil {
			guest.Log(abi.LogDebug, fmt.Sprintf("malformed protobuf request for %s: %v", r.Endpoint, err))
			return nil, guest.BadRequest("malformed protobuf request for %s", r.Endpoint)
		}
		if err := call(); err != nil {
			return nil, err
		}
		return rsp.MicrohostAppendProto(nil)
	}
	if err := unmarshalNewJSON(r.Body, req); err != nil {
		guest.Log(abi.LogDebug, fmt.Sprintf("malformed JSON request for %s: %v", r.Endpoint, err))
		return nil, guest.BadRequest("malformed JSON request for %s", r.Endpoint)
	}
	if err := call(); err != nil {
		return nil, err
	}
	return marshalJSON(rsp)
}
