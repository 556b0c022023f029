package standard

import (
	"github.com/microhost/microhost/host/component"
	jsoncodec "github.com/microhost/microhost/plugins/json-codec"
	jsonrpccodec "github.com/microhost/microhost/plugins/jsonrpc-codec"
	protocodec "github.com/microhost/microhost/plugins/proto-codec"
	protorpccodec "github.com/microhost/microhost/plugins/protorpc-codec"
)

// addCodecs adds the stock codec twins.
func addCodecs(c *component.Catalogue) error {
	for _, t := range []component.Twin{jsoncodec.Twin(), protocodec.Twin(), jsonrpccodec.Twin(), protorpccodec.Twin()} {
		if err := c.Add(t); err != nil {
			return err
		}
	}
	return nil
}
