package abi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/microhost/microhost/abi/jsonstr"
)

// ErrServiceNotFound is wrapped by every registry's lookup error when no live node of the
// service is registered, so callers can tell "not there" from "registry unreachable".
var ErrServiceNotFound = errors.New("service not found")

// Descriptor is what a module says it is, returned as JSON by its ExportDescribe function.
type Descriptor struct {
	// Kind is the component kind, such as "handler".
	Kind string `json:"kind"`
	// Name names the module, such as "greeter".
	Name string `json:"name"`
	// Version is the module's own version, free-form ("1.0.0").
	Version string `json:"version,omitempty"`
	// Endpoints lists the endpoints a handler serves.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// AppendJSON appends d's JSON, exactly as encoding/json.Marshal writes it, to b. A guest's
// describe export uses it, so that a module needs no encoding/json to say what it is (the
// encoder's reflection is a good part of a small Go module).
func (d Descriptor) AppendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = jsonstr.AppendMarshaled(b, d.Kind)
	b = append(b, `,"name":`...)
	b = jsonstr.AppendMarshaled(b, d.Name)
	if d.Version != "" {
		b = append(b, `,"version":`...)
		b = jsonstr.AppendMarshaled(b, d.Version)
	}
	if len(d.Endpoints) > 0 {
		b = append(b, `,"endpoints":[`...)
		for i, e := range d.Endpoints {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends e's JSON as encoding/json.Marshal writes it: the metadata's keys sorted.
func (e Endpoint) appendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = jsonstr.AppendMarshaled(b, e.Name)
	if e.Request != "" {
		b = append(b, `,"request":`...)
		b = jsonstr.AppendMarshaled(b, e.Request)
	}
	if e.Response != "" {
		b = append(b, `,"response":`...)
		b = jsonstr.AppendMarshaled(b, e.Response)
	}
	if len(e.Metadata) > 0 {
		b = append(b, `,"metadata":{`...)
		for i, k := range sortedKeys(e.Metadata) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.AppendMarshaled(b, k)
			b = append(b, ':')
			b = jsonstr.AppendMarshaled(b, e.Metadata[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// sortedKeys returns m's keys in order. A descriptor's metadata has a few keys, and an
// insertion sort keeps a module free of the generic sorting code.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
		for i := len(keys) - 1; i > 0 && keys[i] < keys[i-1]; i-- {
			keys[i], keys[i-1] = keys[i-1], keys[i]
		}
	}
	return keys
}

// Endpoint describes one endpoint of a service, as Go Micro's registry does.
type Endpoint struct {
	// Name is "Service.Method", such as "Greeter.Hello".
	Name string `json:"name"`
	// Request names the request message type, when known.
	Request string `json:"request,omitempty"`
	// Response names the response message type, when known.
	Response string `json:"response,omitempty"`
	// Metadata carries free-form labels.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Validate reports what is missing or wrong in a descriptor.
func (d *Descriptor) Validate() error {
	switch {
	case d.Kind == "":
		return fmt.Errorf("descriptor has no kind")
	case !slices.Contains(Kinds, d.Kind):
		return fmt.Errorf("descriptor kind %q is not one this host knows (known: %s)", d.Kind, strings.Join(Kinds, ", "))
	case d.Name == "":
		return fmt.Errorf("descriptor has no name")
	}
	seen := make(map[string]bool, len(d.Endpoints))
	for _, e := range d.Endpoints {
		if e.Name == "" {
			return fmt.Errorf("descriptor lists an endpoint with no name")
		}
		if seen[e.Name] {
			return fmt.Errorf("descriptor lists endpoint %q twice", e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

// Service is a named service with its nodes, the record a registry stores.
type Service struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Endpoints []Endpoint        `json:"endpoints,omitempty"`
	Nodes     []Node            `json:"nodes,omitempty"`
}

// Node is one running instance of a service.
type Node struct {
	// ID is "<service>-<uuid>", as Go Micro names nodes.
	ID string `json:"id"`
	// Address is host:port where the node listens.
	Address  string            `json:"address"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Error is Go Micro's error shape, serialised as {"id","code","detail","status"}.
type Error struct {
	ID     string `json:"id"`
	Code   int32  `json:"code"`
	Detail string `json:"detail"`
	Status string `json:"status"`
}

// NewError returns an Error with the status text that matches code.
func NewError(id string, code int32, format string, args ...any) *Error {
	return &Error{ID: id, Code: code, Detail: fmt.Sprintf(format, args...), Status: StatusText(code)}
}

// Error returns the JSON form, as Go Micro's errors do: what encoding/json.Marshal writes,
// written without it, so that a module that reports errors needs no encoding/json.
func (e *Error) Error() string {
	b := append(make([]byte, 0, 48+len(e.ID)+len(e.Detail)+len(e.Status)), `{"id":`...)
	b = jsonstr.AppendMarshaled(b, e.ID)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"detail":`...)
	b = jsonstr.AppendMarshaled(b, e.Detail)
	b = append(b, `,"status":`...)
	b = jsonstr.AppendMarshaled(b, e.Status)
	return string(append(b, '}'))
}

// ParseError decodes a Go Micro JSON error. Text that is not one becomes a 500 error with
// the text as its detail.
func ParseError(text string) *Error {
	e := new(Error)
	if err := json.Unmarshal([]byte(text), e); err != nil || e.Code == 0 {
		return &Error{Code: 500, Detail: text, Status: StatusText(500)}
	}
	return e
}

// StatusText is the HTTP reason phrase for the codes Go Micro's errors use. It is kept here,
// rather than taken from net/http, so that guests importing this package stay small.
func StatusText(code int32) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return ""
}
