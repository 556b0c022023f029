// Package standard is microhost's stock set of native twins: the codecs, the selector, the
// transport, the broker protocol and the registries, each a plugin package compiled into the
// host. The command imports it to fill its catalogue, as a program embedding microhost would;
// the host itself never imports a plugin.
package standard

import (
	"fmt"

	"github.com/microhost/microhost/host/component"
)

// Catalogue returns a catalogue holding every stock twin. digests lists the SHA-256 of the
// stock .wasm builds ("name=sha256hex" words, as the Makefile records them); a module file
// with one of these digests runs as its native twin in mode auto.
func Catalogue(digests string) (*component.Catalogue, error) {
	c := component.NewCatalogue()
	for _, add := range []func(*component.Catalogue) error{addCodecs, addSelectors, addTransports, addBrokers, addRegistries} {
		if err := add(c); err != nil {
			return nil, err
		}
	}
	if err := c.AddStockDigests(digests); err != nil {
		return nil, fmt.Errorf("stock digests: %w", err)
	}
	return c, nil
}
