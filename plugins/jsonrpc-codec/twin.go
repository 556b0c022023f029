package jsonrpccodec

import "github.com/microhost/microhost/host/component"

// Twin returns the codec's native twin, for a catalogue.
func Twin() component.Twin {
	return component.Twin{Kind: component.KindCodec, Name: Name, Native: component.CodecTwin{
		ContentTypes: ContentTypes,
		Codec:        component.CodecFuncs{EncodeFunc: Encode, DecodeFunc: Decode},
	}}
}
