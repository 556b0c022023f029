// Command trapsub is a test subscriber of the topic "events" that traps on every message.
package main

import (
	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/guest"
)

func init() {
	guest.DescribeKind(abi.KindSubscriber, "trapsub", "1.0.0")
	guest.Subscribe("events", func(msg *guest.Request) error {
		panic("trapsub traps on every message")
	})
}

func main() {}
