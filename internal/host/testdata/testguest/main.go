// Command testguest is a handler module that misbehaves on request, for the host's tests.
package main

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/microhost/microhost/abi/guest"
)

//go:wasmimport microhost response_body
func rawResponseBody(ptr unsafe.Pointer, length uint32)

//go:wasmimport microhost request_endpoint
func rawRequestEndpoint(buf unsafe.Pointer, capacity uint32) uint32

var hoard [][]byte

func init() {
	guest.Describe("testguest", "0.1.0")
	guest.Handle("Test.Echo", func(req *guest.Request) ([]byte, error) {
		ct, _ := req.Header("content-type")
		md, _ := req.Header("X-Trace")
		return []byte(ct + "|" + md + "|" + string(req.Body)), nil
	})
	guest.Handle("Test.Meta", func(req *guest.Request) ([]byte, error) {
		v, _ := req.Header("X-In")
		req.SetHeader("X-Out", v+"!")
		return nil, nil
	})
	guest.Handle("Test.Noop", func(req *guest.Request) ([]byte, error) {
		return nil, nil
	})
	guest.Handle("Test.Fail", func(req *guest.Request) ([]byte, error) {
		return nil, guest.Errorf(409, "conflict: %s", req.Body)
	})
	guest.Handle("Test.Trap", func(req *guest.Request) ([]byte, error) {
		var m map[string]int
		m["boom"] = 1 // nil map write: a Go panic, which ends the instance
		return nil, nil
	})
	guest.Handle("Test.Loop", func(req *guest.Request) ([]byte, error) {
		n := 0
		for !strings.HasPrefix(string(req.Body), "never") {
			n++
		}
		return []byte{byte(n)}, nil
	})
	guest.Handle("Test.Sleep", func(req *guest.Request) ([]byte, error) {
		d, err := time.ParseDuration(strings.Trim(string(req.Body), `"`)) // bare or a JSON string
		if err != nil {
			return nil, guest.BadRequest("bad duration: %v", err)
		}
		time.Sleep(d)
		return []byte("slept"), nil
	})
	guest.Handle("Test.BadPointer", func(req *guest.Request) ([]byte, error) {
		rawResponseBody(unsafe.Pointer(uintptr(0xfffffff0)), 64)
		return nil, nil
	})
	guest.Handle("Test.BadEndpointBuffer", func(req *guest.Request) ([]byte, error) {
		rawRequestEndpoint(unsafe.Pointer(uintptr(0xffffff00)), 1024)
		return nil, nil
	})
	guest.Handle("Test.Hog", func(req *guest.Request) ([]byte, error) {
		for {
			hoard = append(hoard, make([]byte, 16<<20))
		}
	})
	// Test.LogFlood writes N lines of 1000 bytes through the log import and N to stderr.
	guest.Handle("Test.LogFlood", func(req *guest.Request) ([]byte, error) {
		n, _ := strconv.Atoi(strings.Trim(string(req.Body), `"`))
		line := strings.Repeat("x", 1000)
		for range n {
			guest.Logf("%s", line)
			println(line)
		}
		return nil, nil
	})
	guest.Handle("Test.Log", func(req *guest.Request) ([]byte, error) {
		guest.Logf("log from guest: %s", req.Body)
		println("stderr from guest")
		return nil, nil
	})
}

func main() {}
