// Package component is microhost's component model: the kinds of component a service is built
// from, one small interface per kind, the catalogue of native twins, and the rule that chooses
// between a component's native twin and its Wasm module.
//
// It is the core every plugin depends on and that never depends on a plugin. A stock plugin
// is one Go package that implements its kind's interface here; compiled into the host it is
// the native twin, compiled to Wasm (through its ./wasm wrapper) it is a module that serves
// the same operations through the ABI (abi/ABI.md). The command fills a Catalogue with the
// stock twins (package plugins/standard); the host looks twins up by kind and name.
//
// Nothing in this package depends on wazero, so guest-side code may import it too.
package component

import (
	"fmt"

	"github.com/microhost/microhost/abi"
)

// Kind is a kind of component. Its values are the kinds a module's descriptor declares.
type Kind string

// The component kinds.
const (
	KindHandler    Kind = abi.KindHandler
	KindSubscriber Kind = abi.KindSubscriber
	KindCodec      Kind = abi.KindCodec
	KindSelector   Kind = abi.KindSelector
	KindTransport  Kind = abi.KindTransport
	KindBroker     Kind = abi.KindBroker
	KindRegistry   Kind = abi.KindRegistry
)

// Mode says whether a component runs as its native twin or as its Wasm module.
type Mode string

// The modes. Every kind uses the same three.
const (
	// ModeAuto runs the native twin when the module file is the stock build of that twin
	// (recognised by its digest) or when there is no module file, and the module otherwise.
	ModeAuto Mode = "auto"
	// ModeNative runs the native twin; a name with no twin is an error.
	ModeNative Mode = "native"
	// ModeWasm runs the module; a missing file is an error.
	ModeWasm Mode = "wasm"
)

// ParseMode reads a mode's name. The empty string is ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeNative, ModeWasm:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (known: auto, native, wasm)", s)
}
