package consulregistry

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/microhost/microhost/abi"
)

// Go Micro keeps what Consul has no field for in service tags, each "<letter>-" followed by
// hex(zlib(payload)) (older writers used "<letter>=" and the plain payload; both are read):
//
//	v-  the service version
//	t-  one node-metadata pair, as the JSON object {"key":"value"}
//	e-  one endpoint, as the JSON of Go Micro's registry.Endpoint
//
// microhost adds s- for the service's own metadata (a JSON object), which Go Micro ignores.
const (
	tagVersion         = 'v'
	tagNodeMetadata    = 't'
	tagEndpoint        = 'e'
	tagServiceMetadata = 's'
)

// encodeTag returns "<kind>-<hex(zlib(payload))>".
func encodeTag(kind byte, payload []byte) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(payload) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	return string(kind) + "-" + hex.EncodeToString(b.Bytes())
}

// decodeTag returns the payload of a tag of kind, in either form, or false.
func decodeTag(kind byte, tag string) ([]byte, bool) {
	if len(tag) < 2 || tag[0] != kind {
		return nil, false
	}
	switch tag[1] {
	case '=':
		return []byte(tag[2:]), true
	case '-':
		raw, err := hex.DecodeString(tag[2:])
		if err != nil {
			return nil, false
		}
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false
		}
		defer zr.Close()
		out, err := io.ReadAll(io.LimitReader(zr, 1<<20))
		if err != nil {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// gmValue and gmEndpoint are Go Micro's registry.Value and registry.Endpoint as JSON.
type gmValue struct {
	Name   string     `json:"name"`
	Type   string     `json:"type"`
	Values []*gmValue `json:"values"`
}

type gmEndpoint struct {
	Name     string            `json:"name"`
	Request  *gmValue          `json:"request"`
	Response *gmValue          `json:"response"`
	Metadata map[string]string `json:"metadata"`
}

func typeValue(name string) *gmValue {
	if name == "" {
		return nil
	}
	return &gmValue{Name: name, Type: name}
}

func valueType(v *gmValue) string {
	switch {
	case v == nil:
		return ""
	case v.Type != "":
		return v.Type
	}
	return v.Name
}

// encodeTags returns the tags Go Micro would write for svc and node, in a stable order.
func encodeTags(svc *abi.Service, node *abi.Node) []string {
	var tags []string
	for _, k := range sortedKeys(node.Metadata) {
		b, _ := json.Marshal(map[string]string{k: node.Metadata[k]})
		tags = append(tags, encodeTag(tagNodeMetadata, b))
	}
	for _, e := range svc.Endpoints {
		b, _ := json.Marshal(gmEndpoint{Name: e.Name, Request: typeValue(e.Request), Response: typeValue(e.Response), Metadata: e.Metadata})
		tags = append(tags, encodeTag(tagEndpoint, b))
	}
	tags = append(tags, encodeTag(tagVersion, []byte(svc.Version)))
	if len(svc.Metadata) > 0 {
		b, _ := json.Marshal(svc.Metadata)
		tags = append(tags, encodeTag(tagServiceMetadata, b))
	}
	return tags
}

// decodeVersion returns the version a service's tags carry.
func decodeVersion(tags []string) (string, bool) {
	for _, t := range tags {
		if b, ok := decodeTag(tagVersion, t); ok {
			return string(b), true
		}
	}
	return "", false
}

// decodeNodeMetadata merges every t tag. Like Go Micro, it uses the form (t- or t=) of the
// first such tag and skips tags of the other form.
func decodeNodeMetadata(tags []string) map[string]string {
	var md map[string]string
	var form byte
	for _, t := range tags {
		if len(t) < 2 || t[0] != tagNodeMetadata || (form != 0 && t[1] != form) {
			continue
		}
		b, ok := decodeTag(tagNodeMetadata, t)
		if !ok {
			continue
		}
		form = t[1]
		var kv map[string]string
		if json.Unmarshal(b, &kv) != nil {
			continue
		}
		if md == nil {
			md = make(map[string]string, len(kv))
		}
		for k, v := range kv {
			md[k] = v
		}
	}
	return md
}

// decodeEndpoints returns the endpoints, in tag order, of the first tag form seen.
func decodeEndpoints(tags []string) []abi.Endpoint {
	var eps []abi.Endpoint
	var form byte
	for _, t := range tags {
		if len(t) < 2 || t[0] != tagEndpoint || (form != 0 && t[1] != form) {
			continue
		}
		b, ok := decodeTag(tagEndpoint, t)
		if !ok {
			continue
		}
		form = t[1]
		var e gmEndpoint
		if json.Unmarshal(b, &e) != nil || e.Name == "" {
			continue
		}
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
		eps = append(eps, abi.Endpoint{Name: e.Name, Request: valueType(e.Request), Response: valueType(e.Response), Metadata: e.Metadata})
	}
	return eps
}

func decodeServiceMetadata(tags []string) map[string]string {
	for _, t := range tags {
		if b, ok := decodeTag(tagServiceMetadata, t); ok {
			var md map[string]string
			if json.Unmarshal(b, &md) == nil && len(md) > 0 {
				return md
			}
		}
	}
	return nil
}

func hasVersionTag(tags []string) bool {
	return slices.ContainsFunc(tags, func(t string) bool {
		return strings.HasPrefix(t, "v-") || strings.HasPrefix(t, "v=")
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
