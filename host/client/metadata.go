package client

import "context"

type metadataKey struct{}

// NewContext returns a copy of ctx carrying md, the metadata every call made with it sends
// as headers (Go Micro's metadata.NewContext). A Request's own Metadata wins over it, key by
// key.
func NewContext(ctx context.Context, md map[string]string) context.Context {
	cp := make(map[string]string, len(md))
	for k, v := range md {
		cp[k] = v
	}
	return context.WithValue(ctx, metadataKey{}, cp)
}

// FromContext returns a copy of the metadata NewContext put in ctx, and whether there was
// any.
func FromContext(ctx context.Context) (map[string]string, bool) {
	md, ok := ctx.Value(metadataKey{}).(map[string]string)
	if !ok {
		return nil, false
	}
	cp := make(map[string]string, len(md))
	for k, v := range md {
		cp[k] = v
	}
	return cp, true
}
