package main

import (
	"fmt"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/config"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/plugins/standard"
)

// stockDigests lists the SHA-256 of the stock .wasm builds made with this binary, as
// "name=sha256hex" words. The Makefile sets it at link time (-ldflags -X), so that mode auto
// recognises the plugin folder's stock files and runs their native twins instead. A binary
// built without it knows no stock build and runs every module file it finds.
var stockDigests string

// stockCatalogue returns the stock native twins, with the digests of their stock builds.
func stockCatalogue() (*component.Catalogue, error) {
	return standard.Catalogue(stockDigests)
}

// stockBroker returns the protocol of the stock broker's native twin, which the publish
// command speaks.
func stockBroker() (broker.Protocol, error) {
	c, err := stockCatalogue()
	if err != nil {
		return nil, err
	}
	ch, err := c.Choose(component.KindBroker, config.DefaultBrokerModule, component.ModeNative, "")
	if err != nil {
		return nil, err
	}
	twin, ok := ch.Twin.Native.(component.BrokerTwin)
	if !ok {
		return nil, fmt.Errorf("broker %q: the native twin is a %T, not a component.BrokerTwin", ch.Name, ch.Twin.Native)
	}
	return twin.Protocol, nil
}
