//go:build wasip1

// Command wasm is the consul-registry.wasm plugin: package consulregistry behind ABI v1, with
// Consul reached through the host's outbound-HTTP capability. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o consul-registry.wasm ./plugins/consul-registry/wasm
//
// The host passes the Consul settings as JSON in the Registry-Config header of every call
// (abi/ABI.md, "Registry plugins") and grants outbound HTTP to the configured addresses only.
package main

import (
	"net/http"
	"time"

	"github.com/microhost/microhost/abi/guest"
	consulregistry "github.com/microhost/microhost/plugins/consul-registry"
	"github.com/microhost/microhost/plugins/registryguest"
)

// config is the Registry-Config header.
type config struct {
	Addresses                 []string `json:"addresses"`
	Scheme                    string   `json:"scheme"`
	Token                     string   `json:"token"`
	DeregisterCriticalAfterMS int64    `json:"deregister_critical_after_ms"`
	WatchWaitMS               int64    `json:"watch_wait_ms"`
}

func newRegistry(c *config) (registryguest.Registry, error) {
	r, err := consulregistry.New(consulregistry.Options{
		Addresses:               c.Addresses,
		Scheme:                  c.Scheme,
		Token:                   c.Token,
		HTTPClient:              &http.Client{Transport: hostTransport{}},
		DeregisterCriticalAfter: time.Duration(c.DeregisterCriticalAfterMS) * time.Millisecond,
		WatchWait:               time.Duration(c.WatchWaitMS) * time.Millisecond,
	})
	if err != nil {
		return nil, guest.BadRequest("%v", err)
	}
	return r, nil
}

func init() {
	registryguest.Serve(registryguest.Options[config]{Name: "consul", New: newRegistry, FailureCode: 502})
}

func main() {}
