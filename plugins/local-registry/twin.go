package localregistry

import (
	"context"

	"github.com/microhost/microhost/host/component"
)

// Name is the registry's module name: its module is local-registry.wasm.
const Name = "local-registry"

// Twin returns the native twin of the local-registry module.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindRegistry, Name: Name, Native: component.RegistryTwin{New: Open}}
}

// Open opens the registry the settings describe: rooted at s.Dir, with s.WatchWait and
// s.PollInterval (zero for the defaults). The other settings are ignored.
func Open(_ context.Context, s component.RegistrySettings) (component.Registry, error) {
	return New(s.Dir, Options{WatchWait: s.WatchWait, PollInterval: s.PollInterval})
}
