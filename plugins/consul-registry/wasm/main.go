//go:build wasip1

// Command wasm is the consul-registry.wasm module: package consulregistry behind the
// registry kind's operations (abi/registry.md), with Consul reached through the host's
// outbound-HTTP capability. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o consul-registry.wasm ./plugins/consul-registry/wasm
//
// The host sends the settings (addresses, scheme, token, ...) in every request and grants
// outbound HTTP to the configured addresses only; it applies the TLS settings itself.
package main

import (
	"net/http"

	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	consulregistry "github.com/microhost/microhost/plugins/consul-registry"
	"github.com/microhost/microhost/plugins/registryguest"
)

func newRegistry(s component.RegistrySettings) (component.Registry, error) {
	r, err := consulregistry.New(consulregistry.Options{
		Addresses:               s.Addresses,
		Scheme:                  s.Scheme,
		Token:                   s.Token,
		HTTPClient:              &http.Client{Transport: hostTransport{}},
		DeregisterCriticalAfter: s.DeregisterCriticalAfter,
		WatchWait:               s.WatchWait,
	})
	if err != nil {
		return nil, guest.BadRequest("%v", err)
	}
	return r, nil
}

func init() {
	registryguest.Serve(registryguest.Options{Name: consulregistry.Name, New: newRegistry, FailureCode: 502})
}

func main() {}
