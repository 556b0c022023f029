package standard

import (
	"github.com/microhost/microhost/host/component"
	consulregistry "github.com/microhost/microhost/plugins/consul-registry"
	localregistry "github.com/microhost/microhost/plugins/local-registry"
)

// addRegistries adds the stock registry twins: local-registry and consul-registry.
func addRegistries(c *component.Catalogue) error {
	for _, t := range []component.Twin{localregistry.Twin(), consulregistry.Twin()} {
		if err := c.Add(t); err != nil {
			return err
		}
	}
	return nil
}
