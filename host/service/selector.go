package service

import (
	"context"

	"github.com/microhost/microhost/host/client"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/internal/selector"
	"github.com/microhost/microhost/internal/transport"
)

// provisionClient builds the configured selector ([selector]: its native twin or its
// module, chosen by the catalogue) and the client that makes the handlers' calls through it.
func (s *Service) provisionClient(ctx context.Context) error {
	sel, err := selector.Load(ctx, selector.Setup{Config: s.cfg.Selector, Catalogue: s.catalogue, Loader: s.loader(), Logger: s.logger})
	if err != nil {
		return err
	}
	s.selector = sel
	if a := sel.Auto(); a != nil {
		s.addAuto(*a)
	}
	s.client, err = client.NewClient(s.lookup(), client.Options{Logger: s.logger, Telemetry: s.tel, Selector: sel, Codecs: codec.NativeRegistry(s.catalogue),
		Pool: transport.ClientOptions{NewFramer: s.clientFramer}})
	return err
}
