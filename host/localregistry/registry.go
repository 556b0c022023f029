// Package localregistry opens the embedded registry natively. The registry itself is package
// plugins/local-registry, which also builds as the local-registry.wasm plugin; this package
// only adds the default directory. host/registry chooses between the plugin and this native
// twin.
package localregistry

import (
	"os"
	"path/filepath"

	localreg "github.com/microhost/microhost/plugins/local-registry"
)

// Registry is the embedded registry rooted at a directory.
type Registry = localreg.Registry

// DefaultDir is the registry directory used when none is configured.
func DefaultDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "microhost", "registry")
}

// New returns a registry rooted at dir (DefaultDir when empty), creating the directory.
func New(dir string) (*Registry, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	return localreg.New(dir, localreg.Options{})
}
