// Command slowguest is a test handler: Slow.Wait sleeps for the milliseconds its body
// names ({"ms":N}, at most 10 s), so that a test can hold a request in flight.
package main

import (
	"encoding/json"
	"time"

	"github.com/microhost/microhost/abi/guest"
)

func wait(req *guest.Request) ([]byte, error) {
	var in struct {
		MS int `json:"ms"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil || in.MS < 0 || in.MS > 10_000 {
		return nil, guest.BadRequest("want {\"ms\":N} with N between 0 and 10000")
	}
	time.Sleep(time.Duration(in.MS) * time.Millisecond)
	return []byte(`{}`), nil
}

func init() {
	guest.Describe("slow", "1.0.0")
	guest.Handle("Slow.Wait", wait)
}

func main() {}
