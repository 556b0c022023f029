// Command callguest is a handler module for the tests of service-to-service calls and of
// the client: it relays calls through the call host function, echoes metadata, counts its
// calls, fails and sleeps on request.
package main

import (
	"encoding/json"
	"strconv"
	"time"
	"unsafe"

	"github.com/microhost/microhost/abi/guest"
)

//go:wasmimport microhost response_header
func rawResponseHeader(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32)

//go:wasmimport microhost call
func rawCall(service unsafe.Pointer, serviceLen uint32, endpoint unsafe.Pointer, endpointLen uint32,
	contentType unsafe.Pointer, contentTypeLen uint32, body unsafe.Pointer, bodyLen uint32) int32

//go:wasmimport microhost call_result
func rawCallResult(buf unsafe.Pointer, capacity uint32) int32

func setHeader(k, v string) {
	rawResponseHeader(unsafe.Pointer(unsafe.StringData(k)), uint32(len(k)), unsafe.Pointer(unsafe.StringData(v)), uint32(len(v)))
}

// counts is per instance; the tests run this module with one instance per node.
var counts = map[string]int{}

// RelayRequest asks Call.Relay to call another service.
type RelayRequest struct {
	Service     string          `json:"service"`
	Endpoint    string          `json:"endpoint"`
	ContentType string          `json:"content_type"`
	Body        json.RawMessage `json:"body"`
}

// EchoRequest asks Echo.Call to report request metadata and to set reply metadata.
type EchoRequest struct {
	Keys  []string          `json:"keys"`
	Reply map[string]string `json:"reply"`
}

// EchoResponse reports the metadata Echo.Call saw.
type EchoResponse struct {
	Seen  map[string]string `json:"seen"`
	Calls int               `json:"calls"`
}

func init() {
	guest.Describe("callguest", "0.1.0")
	guest.Handle("Call.Relay", func(req *guest.Request) ([]byte, error) {
		var r RelayRequest
		if err := json.Unmarshal(req.Body, &r); err != nil {
			return nil, guest.BadRequest("relay: %v", err)
		}
		return guest.Call(r.Service, r.Endpoint, r.ContentType, r.Body)
	})
	// Call.Raw calls with the raw imports: a reply read with a buffer too small first, and the
	// result length reported back, to check the copy-if-it-fits rule.
	guest.Handle("Call.Raw", func(req *guest.Request) ([]byte, error) {
		var r RelayRequest
		if err := json.Unmarshal(req.Body, &r); err != nil {
			return nil, guest.BadRequest("raw: %v", err)
		}
		n := rawCall(unsafe.Pointer(unsafe.StringData(r.Service)), uint32(len(r.Service)),
			unsafe.Pointer(unsafe.StringData(r.Endpoint)), uint32(len(r.Endpoint)),
			unsafe.Pointer(unsafe.StringData(r.ContentType)), uint32(len(r.ContentType)),
			unsafe.Pointer(unsafe.SliceData(r.Body)), uint32(len(r.Body)))
		var small [2]byte
		small[0], small[1] = '#', '#'
		m := rawCallResult(unsafe.Pointer(&small[0]), uint32(len(small)))
		full := make([]byte, max(m, 1))
		again := rawCallResult(unsafe.Pointer(&full[0]), uint32(len(full)))
		return []byte(strconv.Itoa(int(n)) + "|" + strconv.Itoa(int(m)) + "|" + string(small[:]) + "|" + strconv.Itoa(int(again)) + "|" + string(full[:again])), nil
	})
	guest.Handle("Echo.Call", func(req *guest.Request) ([]byte, error) {
		counts["Echo.Call"]++
		var r EchoRequest
		if len(req.Body) > 0 {
			if err := json.Unmarshal(req.Body, &r); err != nil {
				return nil, guest.BadRequest("echo: %v", err)
			}
		}
		rsp := EchoResponse{Seen: map[string]string{}, Calls: counts["Echo.Call"]}
		for _, k := range r.Keys {
			if v, ok := req.Header(k); ok {
				rsp.Seen[k] = v
			}
		}
		for k, v := range r.Reply {
			setHeader(k, v)
		}
		return json.Marshal(rsp)
	})
	guest.Handle("Echo.Fail", func(req *guest.Request) ([]byte, error) {
		counts["Echo.Fail"]++
		return nil, guest.Errorf(500, "failing on purpose (%d)", counts["Echo.Fail"])
	})
	guest.Handle("Echo.Sleep", func(req *guest.Request) ([]byte, error) {
		counts["Echo.Sleep"]++
		guest.Logf("Echo.Sleep called")
		var text string
		if err := json.Unmarshal(req.Body, &text); err != nil {
			return nil, guest.BadRequest("want a JSON string such as \"100ms\": %v", err)
		}
		d, err := time.ParseDuration(text)
		if err != nil {
			return nil, guest.BadRequest("bad duration: %v", err)
		}
		time.Sleep(d)
		return []byte(`"slept"`), nil
	})
	guest.Handle("Echo.Count", func(req *guest.Request) ([]byte, error) {
		return json.Marshal(counts)
	})
}

func main() {}
