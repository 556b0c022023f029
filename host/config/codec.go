package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Codec is the [codec] table: which codec modules serve the content types, and which twin of
// each runs. It has several modules, so it names them in Modules instead of Module and Path:
// each is loaded as plugins.dir/NAME.wasm, and its content types are those its native twin or
// its descriptor declares (abi/codec.md).
type Codec struct {
	Component
	// Modules names the codec modules, in order (a content type two of them serve goes to the
	// later one); the default is the four stock codecs. Add a third-party codec by name.
	Modules []string `toml:"modules"`
	// Types overrides Mode per content type, such as "application/json-rpc" = "wasm".
	Types map[string]string `toml:"types"`
}

// CodecOptions are the [codec.options]: none yet, so any key there is an error.
type CodecOptions struct{}

// CodecPath is the module file of the codec named name: plugins.dir/NAME.wasm.
func (c *Config) CodecPath(name string) string {
	return filepath.Join(c.Plugins.Dir, name+".wasm")
}

// DefaultCodecModules are the stock codecs.
func DefaultCodecModules() []string {
	return []string{"json-codec", "proto-codec", "jsonrpc-codec", "protorpc-codec"}
}

func (c *Config) finishCodec() {
	if c.Codec.Mode == "" {
		c.Codec.Mode = "auto"
	}
	if c.Codec.Modules == nil {
		c.Codec.Modules = DefaultCodecModules()
	}
}

func (c *Config) validateCodec() []error {
	errs := validateComponent("codec", &c.Codec.Component)
	if c.Codec.Module != "" || c.Codec.Path != "" {
		errs = append(errs, fmt.Errorf("codec: the codec table has several modules: list their names in codec.modules (each is loaded from plugins.dir as NAME.wasm) instead of codec.module or codec.path"))
	}
	seen := map[string]bool{}
	for i, name := range c.Codec.Modules {
		key := fmt.Sprintf("codec.modules[%d]", i)
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s: is empty", key))
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s: %q is listed twice", key, name))
		case strings.ContainsAny(name, "/\\"):
			errs = append(errs, fmt.Errorf("%s: %q is a name, not a path (module NAME loads from plugins.dir as NAME.wasm)", key, name))
		}
		seen[name] = true
	}
	for _, ct := range slices.Sorted(maps.Keys(c.Codec.Types)) {
		switch mode := c.Codec.Types[ct]; mode {
		case "", "auto", "native", "wasm":
		default:
			errs = append(errs, fmt.Errorf("codec.types %q: unknown mode %q (known: auto, native, wasm)", ct, mode))
		}
	}
	if err := DecodeOptions("codec.options", c.Codec.Options, &CodecOptions{}); err != nil {
		errs = append(errs, err)
	}
	return errs
}
