// Package localregistry opens the embedded registry natively, for tests and tools that need
// a registry without the component machinery. The registry itself is package
// plugins/local-registry; this package only adds the default directory.
package localregistry

import (
	hostregistry "github.com/microhost/microhost/internal/registry"
	localreg "github.com/microhost/microhost/plugins/local-registry"
)

// Registry is the embedded registry rooted at a directory.
type Registry = localreg.Registry

// DefaultDir is the registry directory used when none is configured.
func DefaultDir() string { return hostregistry.DefaultDir() }

// New returns a registry rooted at dir (DefaultDir when empty), creating the directory.
func New(dir string) (*Registry, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	return localreg.New(dir, localreg.Options{})
}
