// Package codec is the host's side of codecs: it turns wire bytes into messages and back for
// each content type, by calling a codec either as its native twin (from the catalogue) or as
// a Wasm module through the "encode" and "decode" operations (abi/codec.md). Both twins give
// the same bytes; the config chooses per codec module and content type.
package codec

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
	"github.com/microhost/microhost/host/component"
)

// Plugin is a codec's two operations over envelope messages: the codec kind's interface,
// component.Codec (abi/codec.md).
type Plugin = component.Codec

// Message is a request or a reply as the server and client see it: the bare body and what
// the wire carried about it.
type Message struct {
	// ID is the request id.
	ID string
	// Service is the service called.
	Service string
	// Endpoint is "Service.Method".
	Endpoint string
	// Error is a Go Micro JSON error; empty when the call succeeded.
	Error string
	// ContentType is Body's content type: application/json or application/protobuf for the
	// envelope codecs, the request's own for the others.
	ContentType string
	// Body is the bare body.
	Body []byte
}

// Codec reads and writes the messages of one content type through a Plugin.
type Codec struct {
	name string
	p    Plugin
}

// New returns a Codec named name (for messages) over p.
func New(name string, p Plugin) *Codec {
	return &Codec{name: name, p: p}
}

// Name returns the codec's name.
func (c *Codec) Name() string { return c.name }

// Plugin returns the operations the codec calls.
func (c *Codec) Plugin() Plugin { return c.p }

// ReadRequest decodes a request's wire bytes of content type ct.
func (c *Codec) ReadRequest(ctx context.Context, ct string, wire []byte) (*Message, error) {
	return c.read(ctx, envelope.Request, ct, wire)
}

// ReadResponse decodes a reply's wire bytes of content type ct.
func (c *Codec) ReadResponse(ctx context.Context, ct string, wire []byte) (*Message, error) {
	return c.read(ctx, envelope.Response, ct, wire)
}

// WriteRequest encodes a request as content type ct.
func (c *Codec) WriteRequest(ctx context.Context, ct string, m *Message) ([]byte, error) {
	return c.write(ctx, envelope.Request, ct, m)
}

// WriteResponse encodes a reply, or an error reply when m.Error is set, as content type ct.
func (c *Codec) WriteResponse(ctx context.Context, ct string, m *Message) ([]byte, error) {
	return c.write(ctx, envelope.Response, ct, m)
}

func (c *Codec) read(ctx context.Context, t envelope.Type, ct string, wire []byte) (*Message, error) {
	in := envelope.Message{Type: t, ContentType: []byte(MediaType(ct)), Body: wire}
	var out envelope.Message
	if _, err := c.p.Decode(ctx, nil, &in, &out); err != nil {
		return nil, err
	}
	return &Message{
		ID:          string(out.ID),
		Service:     string(out.Service),
		Endpoint:    string(out.Endpoint),
		Error:       string(out.Error),
		ContentType: string(out.ContentType),
		Body:        out.Body,
	}, nil
}

func (c *Codec) write(ctx context.Context, t envelope.Type, ct string, m *Message) ([]byte, error) {
	in := envelope.Message{
		Type:        t,
		ID:          []byte(m.ID),
		Service:     []byte(m.Service),
		Endpoint:    []byte(m.Endpoint),
		Error:       []byte(m.Error),
		ContentType: []byte(MediaType(ct)),
		Body:        m.Body,
	}
	return c.p.Encode(ctx, nil, &in)
}

// Registry maps content types to codecs.
type Registry struct {
	byType map[string]*Codec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byType: map[string]*Codec{}}
}

// NativeRegistry returns a registry of the native twin of every codec in cat, in the order of
// their names (a content type two twins serve goes to the later name).
func NativeRegistry(cat *component.Catalogue) *Registry {
	r := NewRegistry()
	for _, name := range cat.Names(component.KindCodec) {
		t, _ := cat.Twin(component.KindCodec, name)
		ct, ok := t.Native.(component.CodecTwin)
		if !ok || ct.Codec == nil {
			continue
		}
		c := New(name, ct.Codec)
		for _, typ := range ct.ContentTypes {
			r.Register(typ, c)
		}
	}
	return r
}

// Register serves content type ct with c, replacing what served it.
func (r *Registry) Register(ct string, c *Codec) {
	r.byType[MediaType(ct)] = c
}

// Lookup returns the codec for content type ct (parameters such as charset are ignored).
func (r *Registry) Lookup(ct string) (*Codec, bool) {
	c, ok := r.byType[MediaType(ct)]
	return c, ok
}

// ContentTypes lists the registered content types, sorted.
func (r *Registry) ContentTypes() []string {
	out := make([]string, 0, len(r.byType))
	for ct := range r.byType {
		out = append(out, ct)
	}
	sort.Strings(out)
	return out
}

// MediaType returns the content type without parameters, lower-cased.
func MediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// errorFrom turns an error from a module call into the codec error callers see.
func errorFrom(op string, err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		out := *ae
		if out.Status == "" {
			out.Status = abi.StatusText(out.Code)
		}
		return &out
	}
	return &abi.Error{Code: http.StatusInternalServerError, Detail: fmt.Sprintf("codec %s: %v", op, err), Status: abi.StatusText(http.StatusInternalServerError)}
}
