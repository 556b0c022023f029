package transport_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/hosttest"
	"github.com/microhost/microhost/internal/transport"
	"github.com/microhost/microhost/plugins/standard"
)

func TestMain(m *testing.M) {
	cat, err := standard.Catalogue("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	twin, _ := cat.Twin(component.KindTransport, "http-transport")
	tt, ok := twin.Native.(component.TransportTwin)
	if !ok {
		fmt.Fprintln(os.Stderr, "no native http-transport twin")
		os.Exit(1)
	}
	os.Exit(hosttest.Main(m, "./plugins/http-transport/wasm", transport.SetUp(tt.NewFramer)))
}
