package host

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
)

// Grants say which services a module may call through the call host function, which topics
// it may publish to, and which credential metadata of the calling request it may forward.
// The zero value grants nothing: a module without grants can call no service and publish to
// no topic (default deny).
type Grants struct {
	// Calls lists the services and endpoints the module may call. An entry is matched
	// against the called service and endpoint:
	//   - "*" grants every service;
	//   - the service's name ("greeter") grants all its endpoints, as does "greeter.*";
	//   - the service's name, a dot and the endpoint ("greeter.Greeter.Hello") grants that
	//     endpoint;
	//   - the service's name, a dot and the endpoint's method ("billing.Charge") grants every
	//     endpoint of the service whose method (the part after the endpoint's last dot) is
	//     Charge.
	Calls []string
	// Publishes lists topic patterns the module may publish to. Topics are dot-separated
	// segments; in a pattern "*" matches exactly one segment and "**", as the last segment,
	// matches one or more segments ("orders.*" grants orders.created, not orders.eu.created;
	// "orders.**" grants both; "**" alone grants every topic). Other segments match
	// themselves exactly.
	Publishes []string
	// ForwardMetadata lists credential metadata keys (see CredentialMetadata) that calls
	// made by the module forward from the calling request. Other metadata is forwarded
	// whatever this says; credentials are not, unless listed here.
	ForwardMetadata []string
	// CredentialMetadata adds keys to DefaultCredentialMetadata: metadata that is not
	// forwarded to called services unless ForwardMetadata lists it.
	CredentialMetadata []string
}

// DefaultCredentialMetadata are the metadata keys that carry a caller's credentials: the
// call host function does not forward them to called services unless the module's
// Grants.ForwardMetadata lists them.
var DefaultCredentialMetadata = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// grantStatusForbidden is the code of a call or publish the module's grants refuse.
const grantStatusForbidden = http.StatusForbidden

// grantErrorID is the id of the errors a refused grant makes.
const grantErrorID = "microhost.grant"

// mayCall reports whether g lets the module call endpoint of service.
func (g *Grants) mayCall(service, endpoint string) bool {
	method := endpoint
	if i := strings.LastIndexByte(endpoint, '.'); i >= 0 {
		method = endpoint[i+1:]
	}
	for _, c := range g.Calls {
		switch {
		case c == "*", c == service, c == service+".*":
			return true
		case len(c) > len(service)+1 && strings.HasPrefix(c, service) && c[len(service)] == '.':
			rest := c[len(service)+1:]
			if rest == endpoint || rest == method {
				return true
			}
		}
	}
	return false
}

// callRefused is the 403 for a call the grants refuse; it names the grant to add.
func callRefused(module, service, endpoint string) *abi.Error {
	method := endpoint
	if i := strings.LastIndexByte(endpoint, '.'); i >= 0 {
		method = endpoint[i+1:]
	}
	return abi.NewError(grantErrorID, grantStatusForbidden,
		"module %s may not call %s.%s: add %q (this method) or %q (every endpoint) to its calls",
		module, service, method, service+"."+method, service)
}

// mayPublish reports whether g lets the module publish to topic.
func (g *Grants) mayPublish(topic string) bool {
	for _, p := range g.Publishes {
		if component.TopicMatches(p, topic) {
			return true
		}
	}
	return false
}

// publishRefused describes a publish the grants refuse, naming the grant to add.
func publishRefused(module, topic string) string {
	return fmt.Sprintf("module %s may not publish to %s: add %q to its publishes", module, topic, topic)
}

// isCredential reports whether key is credential metadata under g.
func (g *Grants) isCredential(key string) bool {
	eq := func(s string) bool { return strings.EqualFold(s, key) }
	return slices.ContainsFunc(DefaultCredentialMetadata, eq) || slices.ContainsFunc(g.CredentialMetadata, eq)
}

// mayForward reports whether the module may forward the metadata key to a called service.
func (g *Grants) mayForward(key string) bool {
	return !g.isCredential(key) || slices.ContainsFunc(g.ForwardMetadata, func(s string) bool { return strings.EqualFold(s, key) })
}
