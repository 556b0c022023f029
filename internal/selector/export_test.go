package selector

import "github.com/microhost/microhost/host/component"

// SelectionsWithoutNodes returns how many selections the Wasm selector s (from NewWasm) sent
// naming a node list without its nodes.
func SelectionsWithoutNodes(s component.Selector) int64 {
	return s.(wasmSelector).sent.named.Load()
}
