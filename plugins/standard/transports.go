package standard

import "github.com/microhost/microhost/host/component"

// addTransports adds the stock transport twins.
func addTransports(c *component.Catalogue) error {
	_ = c
	return nil
}
