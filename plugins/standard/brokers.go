package standard

import (
	"github.com/microhost/microhost/host/component"
	httpbroker "github.com/microhost/microhost/plugins/http-broker"
)

// addBrokers adds the stock broker twins: http-broker, Go Micro's HTTP broker.
func addBrokers(c *component.Catalogue) error {
	return c.Add(httpbroker.Twin())
}
