//go:build !wasip1

package guest

import (
	"testing"
)

func TestDispatchNative(t *testing.T) {
	Handle("Test.Meta", func(req *Request) ([]byte, error) {
		v, _ := req.Header("x-in")
		req.SetHeader("X-Out", v+"!")
		return []byte("ok"), nil
	})
	rsp, hdr, err := DispatchWithHeaders("Test.Meta", nil, map[string]string{"X-In": "hi"})
	if err != nil || string(rsp) != "ok" || hdr["X-Out"] != "hi!" {
		t.Fatalf("got %q %v %v", rsp, hdr, err)
	}
	if _, err := Dispatch("Test.Missing", nil, nil); err == nil || err.Code != 404 {
		t.Fatalf("unknown endpoint: %v", err)
	}
}
