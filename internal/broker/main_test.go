package broker_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/microhost/microhost/internal/brokertest"
	"github.com/microhost/microhost/internal/guestbuild"
)

// Modules built from source for this package's tests.
var (
	subscriberWasm string // handlers/subscriber: counts and logs "events" and "orders"
	trapsubWasm    string // testdata/trapsub: traps on every "events" message
	brokerWasm     string // the http-broker plugin
	watsubWasm     string // testdata/watsub: a WAT subscriber, no SDK
)

func TestMain(m *testing.M) {
	brokertest.RunIfSubscriber()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "microhost-broker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	for pkg, dst := range map[string]*string{
		"./handlers/subscriber":              &subscriberWasm,
		"./internal/broker/testdata/trapsub": &trapsubWasm,
		"./plugins/http-broker/wasm":         &brokerWasm,
	} {
		if *dst, err = guestbuild.Go(ctx, pkg, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if watsubWasm, err = guestbuild.WAT(ctx, "./internal/broker/testdata/watsub", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
