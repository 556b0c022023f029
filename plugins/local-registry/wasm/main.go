//go:build wasip1

// Command wasm is the local-registry.wasm module: package localregistry behind the registry
// kind's operations (abi/registry.md). The host mounts the registry directory at /registry,
// the only file access the module has, and sends that path as the settings' dir. Build it
// with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o local-registry.wasm ./plugins/local-registry/wasm
package main

import (
	"context"

	"github.com/microhost/microhost/abi/guest"
	"github.com/microhost/microhost/host/component"
	localregistry "github.com/microhost/microhost/plugins/local-registry"
	"github.com/microhost/microhost/plugins/registryguest"
)

// Dir is where the host mounts the registry directory, used when the settings name none.
const Dir = "/registry"

func newRegistry(s component.RegistrySettings) (component.Registry, error) {
	if s.Dir == "" {
		s.Dir = Dir
	}
	r, err := localregistry.Open(context.Background(), s)
	if err != nil {
		return nil, guest.Errorf(500, "%v (is the registry directory mounted at %s?)", err, s.Dir)
	}
	return r, nil
}

func init() {
	registryguest.Serve(registryguest.Options{Name: localregistry.Name, New: newRegistry, FailureCode: 500})
}

func main() {}
