package main

import (
	"github.com/microhost/microhost/internal/codec"
	"github.com/microhost/microhost/plugins/standard"
)

// stockCodecs returns the native twins of the stock codecs, by content type.
func stockCodecs() *codec.Registry {
	cat, err := standard.Catalogue("")
	if err != nil {
		panic(err)
	}
	return codec.NativeRegistry(cat)
}
