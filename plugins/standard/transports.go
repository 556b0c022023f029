package standard

import (
	"github.com/microhost/microhost/host/component"
	httptransport "github.com/microhost/microhost/plugins/http-transport"
)

// addTransports adds the stock transport twins.
func addTransports(c *component.Catalogue) error {
	return c.Add(httptransport.Twin())
}
