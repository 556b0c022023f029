//go:build wasip1

// Command wasm is the local-registry.wasm plugin: package localregistry behind ABI v1. The
// host mounts the registry directory at /registry, the only file access the module has.
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o local-registry.wasm ./plugins/local-registry/wasm
package main

import (
	"time"

	"github.com/microhost/microhost/abi/guest"
	localregistry "github.com/microhost/microhost/plugins/local-registry"
	"github.com/microhost/microhost/plugins/registryguest"
)

// Dir is where the host mounts the registry directory.
const Dir = "/registry"

// config is the Registry-Config header.
type config struct {
	WatchWaitMS    int64 `json:"watch_wait_ms"`
	PollIntervalMS int64 `json:"poll_interval_ms"`
}

func newRegistry(c *config) (registryguest.Registry, error) {
	r, err := localregistry.New(Dir, localregistry.Options{
		WatchWait:    time.Duration(c.WatchWaitMS) * time.Millisecond,
		PollInterval: time.Duration(c.PollIntervalMS) * time.Millisecond,
	})
	if err != nil {
		return nil, guest.Errorf(500, "%v (is the registry directory mounted at %s?)", err, Dir)
	}
	return r, nil
}

func init() {
	registryguest.Serve(registryguest.Options[config]{Name: "local", New: newRegistry, FailureCode: 500})
}

func main() {}
