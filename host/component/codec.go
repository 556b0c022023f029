package component

import (
	"context"
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
)

// The codec kind's operations (abi/codec.md): each takes and answers one
// microhost.abi.v1.Message envelope.
const (
	// CodecEncode turns a message into the wire bytes of its content type.
	CodecEncode = "encode"
	// CodecDecode turns wire bytes back into a message.
	CodecDecode = "decode"
)

// CodecContentTypes is the key, in the metadata of a codec module's "encode" and "decode"
// endpoints, whose value lists the content types the codec serves, separated by commas
// (abi/codec.md, "Content types").
const CodecContentTypes = "content_types"

// Codec is a codec's two operations over envelope messages (abi/codec.md). Encode appends the
// wire bytes of m to dst and returns the extended buffer. Decode reads the wire bytes in
// in.Body (in.Type says request or response, in.ContentType the wire content type) into out,
// whose fields may point into in.Body and into the returned buffer, which grows dst. Errors
// are *abi.Error: 400 for bytes that do not decode, 500 for a message that cannot be encoded.
//
// A Codec is safe for concurrent use.
type Codec interface {
	Encode(ctx context.Context, dst []byte, m *envelope.Message) ([]byte, error)
	Decode(ctx context.Context, dst []byte, in, out *envelope.Message) ([]byte, error)
}

// CodecTwin is what a codec's native twin puts in Twin.Native: the content types it serves
// and its operations.
type CodecTwin struct {
	// ContentTypes lists the media types it serves, lower-case, without parameters.
	ContentTypes []string
	// Codec is the codec itself.
	Codec Codec
}

// CodecFuncs is a Codec made of a plugin package's two plain functions, which report errors as
// plain errors: an Encode error becomes a 500 *abi.Error, a Decode error a 400 one.
type CodecFuncs struct {
	// EncodeFunc appends the wire bytes of m to dst.
	EncodeFunc func(dst []byte, m *envelope.Message) ([]byte, error)
	// DecodeFunc decodes the wire bytes in in.Body into out, using dst as scratch space.
	DecodeFunc func(dst []byte, in, out *envelope.Message) ([]byte, error)
}

// Encode implements Codec.
func (f CodecFuncs) Encode(_ context.Context, dst []byte, m *envelope.Message) ([]byte, error) {
	out, err := f.EncodeFunc(dst, m)
	if err != nil {
		return dst, &abi.Error{Code: 500, Detail: err.Error(), Status: abi.StatusText(500)}
	}
	return out, nil
}

// Decode implements Codec.
func (f CodecFuncs) Decode(_ context.Context, dst []byte, in, out *envelope.Message) ([]byte, error) {
	buf, err := f.DecodeFunc(dst, in, out)
	if err != nil {
		return buf, &abi.Error{Code: 400, Detail: err.Error(), Status: abi.StatusText(400)}
	}
	return buf, nil
}

// CodecTypesOf returns the content types a codec module's descriptor declares: the
// content_types metadata of its "encode" endpoint (or else of its "decode" endpoint), split at
// commas, trimmed and lower-cased. It returns nil when the descriptor declares none.
func CodecTypesOf(d abi.Descriptor) []string {
	for _, op := range []string{CodecEncode, CodecDecode} {
		for _, e := range d.Endpoints {
			if e.Name != op || e.Metadata[CodecContentTypes] == "" {
				continue
			}
			var out []string
			for _, ct := range strings.Split(e.Metadata[CodecContentTypes], ",") {
				if ct = strings.ToLower(strings.TrimSpace(ct)); ct != "" {
					out = append(out, ct)
				}
			}
			return out
		}
	}
	return nil
}
