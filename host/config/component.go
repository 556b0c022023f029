package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Component is what every component table shares — [registry], [selector], [transport],
// [broker] and [codec] — embedded in each: which module, which mode, and the module's own
// settings.
type Component struct {
	// Module names the component: its module is Module + ".wasm" in the plugin folder, and
	// its native twin, when there is one, has the same name.
	Module string `toml:"module"`
	// Path loads the module from this file instead of the plugin folder.
	Path string `toml:"path"`
	// Mode is "auto" (the default: the native twin when the module file is the stock
	// build of that twin or is absent, the module otherwise), "native" or "wasm".
	Mode string `toml:"mode"`
	// PoolSize bounds the module's warm instances; zero means the kind's default.
	PoolSize int `toml:"pool_size"`
	// Options are the component's own settings, the [KIND.options] sub-table; the kind
	// decodes them strictly with DecodeOptions.
	Options map[string]any `toml:"options"`
}

// finishComponent fills the defaults of a component table: the module name, the mode and the
// module path (relative paths against the config file's directory).
func (c *Config) finishComponent(comp *Component, defaultModule string) {
	if comp.Mode == "" {
		comp.Mode = "auto"
	}
	if comp.Module == "" {
		comp.Module = defaultModule
	}
	if comp.Path == "" && comp.Module != "" {
		comp.Path = filepath.Join(c.Plugins.Dir, comp.Module+".wasm")
	}
	comp.Path = c.resolve(comp.Path)
}

// validateComponent checks a component table whose TOML key is key.
func validateComponent(key string, comp *Component) []error {
	var errs []error
	switch comp.Mode {
	case "", "auto", "native", "wasm":
	default:
		errs = append(errs, fmt.Errorf("%s.mode: unknown mode %q (known: auto, native, wasm)", key, comp.Mode))
	}
	if comp.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("%s.pool_size: must not be negative", key))
	}
	if strings.ContainsAny(comp.Module, "/\\") {
		errs = append(errs, fmt.Errorf("%s.module: %q is a name, not a path (use %s.path for a file)", key, comp.Module, key))
	}
	return errs
}

// DecodeOptions decodes a component's options sub-table into v strictly: an unknown key or a
// value of the wrong type is an error naming key (such as "selector.options") and the key
// inside it.
func DecodeOptions(key string, opts map[string]any, v any) error {
	if len(opts) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(opts); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	md, err := toml.NewDecoder(&buf).Decode(v)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = key + "." + k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	return nil
}
