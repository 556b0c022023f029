package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/host"
)

// LocalPlugin is the local registry module's file name in the plugin folder.
const LocalPlugin = "local-registry.wasm"

// GuestDir is where a local registry module sees the registry directory.
const GuestDir = "/registry"

// watchChunk is the wait of one watch call into a local registry module, which works on
// files and so is not interrupted: cancellation is noticed between calls.
const watchChunk = 250 * time.Millisecond

// DefaultDir is the local registry directory used when none is configured.
func DefaultDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "microhost", "registry")
}

// local plans a local registry: the directory, created here, is the native twin's Dir and
// the module's only mount, at GuestDir.
func (o Options) local() (plan, error) {
	dir := o.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return plan{}, fmt.Errorf("local registry: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return plan{}, fmt.Errorf("local registry: %w", err)
	}
	watchWait := o.WatchWait
	if watchWait <= 0 {
		watchWait = DefaultWatchWait
	}
	chunk := min(watchChunk, watchWait)
	s := component.RegistrySettings{Dir: dir, WatchWait: watchWait, PollInterval: o.PollInterval}
	w := s
	w.Dir, w.WatchWait = GuestDir, chunk
	return plan{
		native:    s,
		wasm:      w,
		grant:     host.ModuleOptions{Mounts: []host.Mount{{HostDir: dir, GuestPath: GuestDir}}},
		watchWait: watchWait,
		chunk:     chunk,
	}, nil
}
