package standard

import (
	"github.com/microhost/microhost/host/component"
	randomselector "github.com/microhost/microhost/plugins/random-selector"
)

// addSelectors adds the stock selector twins: random-selector.
func addSelectors(c *component.Catalogue) error {
	return c.Add(randomselector.Twin())
}
