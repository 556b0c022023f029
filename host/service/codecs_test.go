package service

import (
	"testing"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/plugins/standard"
)

// stockCatalogue returns the stock native twins, with no stock digests recorded.
func stockCatalogue(tb testing.TB) *component.Catalogue {
	tb.Helper()
	cat, err := standard.Catalogue("")
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

// stockCodecs returns the native twins of the stock codecs, by content type.
func stockCodecs() *codec.Registry {
	cat, err := standard.Catalogue("")
	if err != nil {
		panic(err)
	}
	return codec.NativeRegistry(cat)
}
