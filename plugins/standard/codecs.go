package standard

import "github.com/microhost/microhost/host/component"

// addCodecs adds the stock codec twins.
func addCodecs(c *component.Catalogue) error {
	_ = c
	return nil
}
