package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/microhost/microhost/host"
	"github.com/microhost/microhost/host/localregistry"
	localreg "github.com/microhost/microhost/plugins/local-registry"
)

// LocalPlugin is the embedded registry plugin's file name in the plugin folder.
const LocalPlugin = "local-registry.wasm"

// watchChunk is the wait of one watch call into the local plugin, which works on files and
// so is not interrupted: cancellation is noticed between calls.
const watchChunk = 250 * time.Millisecond

// LocalOptions configure the embedded local registry.
type LocalOptions struct {
	// Dir is the registry directory shared by the processes of one machine. Empty means
	// localregistry.DefaultDir().
	Dir string
	// WatchWait bounds one Watch call. Zero means 30 s.
	WatchWait time.Duration
	// PollInterval is how often Watch looks at the directory. Zero means 100 ms.
	PollInterval time.Duration
	// Plugin says where the plugin comes from and how it runs.
	Plugin PluginOptions
}

// localConfig is the local plugin's Registry-Config header (abi/ABI.md, "Registry plugins").
type localConfig struct {
	WatchWaitMS    int64 `json:"watch_wait_ms,omitempty"`
	PollIntervalMS int64 `json:"poll_interval_ms,omitempty"`
}

// NewLocal opens the embedded registry: the local-registry.wasm plugin, with the directory
// mounted at /registry as its only file access, or the native twin.
func NewLocal(ctx context.Context, opts LocalOptions) (*Registry, error) {
	dir := opts.Dir
	if dir == "" {
		dir = localregistry.DefaultDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local registry: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local registry: %w", err)
	}
	watchWait := opts.WatchWait
	if watchWait <= 0 {
		watchWait = localreg.DefaultWatchWait
	}
	path, useWasm, err := opts.Plugin.pluginPath(LocalPlugin)
	if err != nil {
		return nil, err
	}
	if useWasm {
		grant := host.ModuleOptions{Mounts: []host.Mount{{HostDir: dir, GuestPath: "/registry"}}}
		chunk := min(watchChunk, watchWait)
		cfg := localConfig{WatchWaitMS: chunk.Milliseconds(), PollIntervalMS: opts.PollInterval.Milliseconds()}
		return loadPlugin(ctx, opts.Plugin, pluginSpec{name: "local", path: path, grant: grant, config: cfg, watchWait: watchWait, chunk: chunk})
	}
	native, err := localreg.New(dir, localreg.Options{WatchWait: watchWait, PollInterval: opts.PollInterval})
	if err != nil {
		return nil, err
	}
	return &Registry{name: "local", mode: ModeNative, b: timed{native, 15 * time.Second, watchWait + 15*time.Second}}, nil
}
