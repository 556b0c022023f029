//go:build wasip1

// Command wasm is the local-registry.wasm plugin: package localregistry behind ABI v1. The
// host mounts the registry directory at /registry, the only file access the module has.
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o local-registry.wasm ./plugins/local-registry/wasm
package main

import (
	"encoding/json"
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

// The registry built for the last configuration seen (one module per instance).
var (
	lastConfig string
	reg        *localregistry.Registry
)

func registry(req *guest.Request) (*localregistry.Registry, error) {
	raw, _ := req.Header("Registry-Config")
	if reg != nil && raw == lastConfig {
		return reg, nil
	}
	var c config
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, guest.BadRequest("Registry-Config header: %v", err)
		}
	}
	r, err := localregistry.New(Dir, localregistry.Options{
		WatchWait:    time.Duration(c.WatchWaitMS) * time.Millisecond,
		PollInterval: time.Duration(c.PollIntervalMS) * time.Millisecond,
	})
	if err != nil {
		return nil, guest.Errorf(500, "%v (is the registry directory mounted at %s?)", err, Dir)
	}
	reg, lastConfig = r, raw
	return r, nil
}

func init() {
	registryguest.Serve(registryguest.Options{
		Name:        "local",
		Open:        func(req *guest.Request) (registryguest.Registry, error) { return registry(req) },
		FailureCode: 500,
	})
}

func main() {}
