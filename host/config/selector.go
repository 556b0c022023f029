package config

// Selector is the [selector] table: the component that picks the node each call goes to.
type Selector struct {
	Component
}

// DefaultSelectorModule is the stock selector.
const DefaultSelectorModule = "random-selector"

func (c *Config) finishSelector() {
	c.finishComponent(&c.Selector.Component, DefaultSelectorModule)
}

func (c *Config) validateSelector() []error {
	return validateComponent("selector", &c.Selector.Component)
}
