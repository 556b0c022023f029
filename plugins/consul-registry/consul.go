// Package consulregistry is microhost's Consul registry: it registers, deregisters, looks up,
// lists and watches services through Consul's HTTP API, storing them as Go Micro's Consul
// registry does, so Go Micro tooling reading Consul sees microhost services and the reverse.
//
// The package is compiled two ways: into the consul-registry.wasm plugin (wasm/), where its
// HTTP client's transport is the host's outbound-HTTP capability, and unchanged into the
// host as the native twin, with Go's ordinary HTTP client.
//
// Semantics follow Go Micro: a node's Consul service ID is its node ID ("<name>-<uuid>");
// with a TTL, the registration carries a TTL check that each Register passes (a full
// re-registration happens only when the record changed or the pass fails, for example
// after the agent restarted); DeregisterCriticalServiceAfter lets Consul reap a node that
// died without deregistering; GetService drops nodes with a critical check.
package consulregistry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/microhost/microhost/abi"
)

// Defaults.
const (
	// DefaultAddress is the Consul agent's usual HTTP address.
	DefaultAddress = "127.0.0.1:8500"
	// DefaultWatchWait bounds one blocking query of Watch.
	DefaultWatchWait = 30 * time.Second
)

// Options configure a Registry.
type Options struct {
	// Addresses are Consul agents' HTTP addresses (host:port), tried in order: an operation
	// that cannot reach one moves on to the next. Empty means DefaultAddress.
	Addresses []string
	// Scheme is "http" (the default) or "https".
	Scheme string
	// Token is the Consul ACL token sent with every request.
	Token string
	// HTTPClient carries every request. In the Wasm plugin its transport is the host's
	// outbound-HTTP capability; natively it carries the TLS settings. Nil uses a default.
	HTTPClient *http.Client
	// DeregisterCriticalAfter is how long a node's check may stay critical before Consul
	// removes it. Zero means Go Micro's max(ttl, 1m) + 5s. Consul itself never reaps sooner
	// than one minute.
	DeregisterCriticalAfter time.Duration
	// WatchWait bounds one blocking query of Watch. Zero means DefaultWatchWait.
	WatchWait time.Duration
}

// Registry is a Consul registry. It is safe for concurrent use.
type Registry struct {
	opts    Options
	clients []*api.Client

	mu sync.Mutex
	// current is the index of the address that last answered.
	current int
	// registered holds, per node ID, the hash of the record last fully registered, so an
	// unchanged record is refreshed by passing its TTL check only.
	registered map[string]uint64
}

// New returns a Registry for opts. It does not contact Consul.
func New(opts Options) (*Registry, error) {
	if len(opts.Addresses) == 0 {
		opts.Addresses = []string{DefaultAddress}
	}
	switch opts.Scheme {
	case "":
		opts.Scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("consul registry: scheme %q is neither http nor https", opts.Scheme)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.WatchWait <= 0 {
		opts.WatchWait = DefaultWatchWait
	}
	r := &Registry{opts: opts, registered: map[string]uint64{}}
	for _, addr := range opts.Addresses {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("consul registry: address %q: want host:port", addr)
		}
		c, err := api.NewClient(&api.Config{
			Address:    addr,
			Scheme:     opts.Scheme,
			Token:      opts.Token,
			HttpClient: opts.HTTPClient,
		})
		if err != nil {
			return nil, fmt.Errorf("consul registry: %w", err)
		}
		r.clients = append(r.clients, c)
	}
	return r, nil
}

// do runs op against the agent that last answered and, when it cannot be reached, against
// the others in turn. An answer with an error status does not move on.
func (r *Registry) do(ctx context.Context, op func(c *api.Client) error) error {
	r.mu.Lock()
	start := r.current
	r.mu.Unlock()
	var errs []error
	for i := range r.clients {
		k := (start + i) % len(r.clients)
		err := op(r.clients[k])
		var se api.StatusError
		if err == nil || errors.As(err, &se) || ctx.Err() != nil {
			if err == nil && k != start {
				r.mu.Lock()
				r.current = k
				r.mu.Unlock()
			}
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.opts.Addresses[k], err))
	}
	return errors.Join(errs...)
}

// deregisterAfter is Go Micro's rule unless configured: max(ttl, 1m) + 5s.
func (r *Registry) deregisterAfter(ttl time.Duration) time.Duration {
	if r.opts.DeregisterCriticalAfter > 0 {
		return r.opts.DeregisterCriticalAfter
	}
	return max(ttl, time.Minute) + 5*time.Second
}

func checkID(nodeID string) string { return "service:" + nodeID }

// Register registers each node of svc as a Consul service whose ID is the node ID. With
// ttl > 0 each gets a TTL check, passed now; calling Register again with an unchanged record
// only passes the check, and re-registers in full when that fails.
func (r *Registry) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	if svc.Name == "" {
		return errors.New("consul registry: register: service has no name")
	}
	if len(svc.Nodes) == 0 {
		return fmt.Errorf("consul registry: register %s: the service has no nodes", svc.Name)
	}
	h := hashRecord(svc, ttl)
	for i := range svc.Nodes {
		node := &svc.Nodes[i]
		if node.ID == "" {
			return fmt.Errorf("consul registry: register %s: a node has no id", svc.Name)
		}
		r.mu.Lock()
		known := r.registered[node.ID] == h
		r.mu.Unlock()
		if known && ttl > 0 && r.passTTL(ctx, node.ID) == nil {
			continue
		}
		if err := r.registerNode(ctx, svc, node, ttl); err != nil {
			r.mu.Lock()
			delete(r.registered, node.ID)
			r.mu.Unlock()
			return fmt.Errorf("consul registry: register %s node %s: %w", svc.Name, node.ID, err)
		}
		r.mu.Lock()
		r.registered[node.ID] = h
		r.mu.Unlock()
	}
	return nil
}

func (r *Registry) registerNode(ctx context.Context, svc *abi.Service, node *abi.Node, ttl time.Duration) error {
	host, portText, err := net.SplitHostPort(node.Address)
	if err != nil {
		return fmt.Errorf("node address %q: want host:port", node.Address)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("node address %q: bad port", node.Address)
	}
	reg := &api.AgentServiceRegistration{
		ID:      node.ID,
		Name:    svc.Name,
		Tags:    encodeTags(svc, node),
		Address: host,
		Port:    port,
	}
	if ttl > 0 {
		// The check starts passing: a TTL check starts critical otherwise, and until the
		// pass below reached the catalog a lookup right after the registration found no
		// live node.
		reg.Check = &api.AgentServiceCheck{
			CheckID:                        checkID(node.ID),
			TTL:                            ttl.String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: r.deregisterAfter(ttl).String(),
		}
	}
	err = r.do(ctx, func(c *api.Client) error {
		return c.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(ctx))
	})
	if err != nil {
		return err
	}
	if ttl > 0 {
		return r.passTTL(ctx, node.ID)
	}
	return nil
}

func (r *Registry) passTTL(ctx context.Context, nodeID string) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	return r.do(ctx, func(c *api.Client) error {
		return c.Agent().UpdateTTLOpts(checkID(nodeID), "", api.HealthPassing, q)
	})
}

// Deregister removes each node of svc from the agent. A node the agent does not know is not
// an error.
func (r *Registry) Deregister(ctx context.Context, svc *abi.Service) error {
	var errs []error
	for _, node := range svc.Nodes {
		r.mu.Lock()
		delete(r.registered, node.ID)
		r.mu.Unlock()
		q := (&api.QueryOptions{}).WithContext(ctx)
		err := r.do(ctx, func(c *api.Client) error {
			return c.Agent().ServiceDeregisterOpts(node.ID, q)
		})
		var se api.StatusError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", node.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consul registry: deregister %s: %w", svc.Name, err)
	}
	return nil
}

// GetService returns the live registrations of name, one Service per version (sorted), each
// with its nodes sorted by ID. Nodes with a critical check are left out, as Go Micro does. It
// returns an error wrapping abi.ErrServiceNotFound when no live node is registered.
func (r *Registry) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	entries, _, err := r.health(ctx, name, &api.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("consul registry: get %s: %w", name, err)
	}
	svcs := group(name, entries)
	if len(svcs) == 0 {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	return svcs, nil
}

// Watch blocks until the registrations of name differ from those at index (a value an
// earlier Watch returned; 0 answers at once), or until the wait bound passes, and returns
// the current registrations (empty when none is live) and the index to pass next.
func (r *Registry) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	entries, last, err := r.health(ctx, name, &api.QueryOptions{WaitIndex: index, WaitTime: r.opts.WatchWait})
	if err != nil {
		return nil, index, fmt.Errorf("consul registry: watch %s: %w", name, err)
	}
	// Consul's rule for blocking queries: an index of 0 must not be used to block, and an
	// index that went backwards (a restarted agent) starts over.
	if last == 0 {
		last = 1
	}
	return group(name, entries), last, nil
}

func (r *Registry) health(ctx context.Context, name string, q *api.QueryOptions) ([]*api.ServiceEntry, uint64, error) {
	if name == "" {
		return nil, 0, errors.New("no service name")
	}
	q = q.WithContext(ctx)
	var entries []*api.ServiceEntry
	var meta *api.QueryMeta
	err := r.do(ctx, func(c *api.Client) error {
		var err error
		entries, meta, err = c.Health().Service(name, "", false, q)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return entries, meta.LastIndex, nil
}

// group turns health entries into Services by version, dropping critical nodes.
func group(name string, entries []*api.ServiceEntry) []*abi.Service {
	byVersion := map[string]*abi.Service{}
	for _, e := range entries {
		if e.Service == nil || e.Service.Service != name {
			continue
		}
		if slices.ContainsFunc(e.Checks, func(c *api.HealthCheck) bool { return c.Status == api.HealthCritical }) {
			continue
		}
		version, _ := decodeVersion(e.Service.Tags)
		svc, ok := byVersion[version]
		if !ok {
			svc = &abi.Service{
				Name:      name,
				Version:   version,
				Metadata:  decodeServiceMetadata(e.Service.Tags),
				Endpoints: decodeEndpoints(e.Service.Tags),
			}
			byVersion[version] = svc
		}
		host := e.Service.Address
		if host == "" && e.Node != nil {
			host = e.Node.Address
		}
		svc.Nodes = append(svc.Nodes, abi.Node{
			ID:       e.Service.ID,
			Address:  net.JoinHostPort(host, strconv.Itoa(e.Service.Port)),
			Metadata: decodeNodeMetadata(e.Service.Tags),
		})
	}
	out := make([]*abi.Service, 0, len(byVersion))
	for _, svc := range byVersion {
		slices.SortFunc(svc.Nodes, func(a, b abi.Node) int { return cmp.Compare(a.ID, b.ID) })
		out = append(out, svc)
	}
	slices.SortFunc(out, func(a, b *abi.Service) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

// ListServices returns the names, sorted, of the services in Consul's catalog that carry a
// Go Micro version tag — services registered by microhost or Go Micro. Others (such as
// Consul's own "consul" service) are left out.
func (r *Registry) ListServices(ctx context.Context) ([]string, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	var catalog map[string][]string
	err := r.do(ctx, func(c *api.Client) error {
		var err error
		catalog, _, err = c.Catalog().Services(q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consul registry: list: %w", err)
	}
	names := make([]string, 0, len(catalog))
	for name, tags := range catalog {
		if hasVersionTag(tags) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func hashRecord(svc *abi.Service, ttl time.Duration) uint64 {
	h := fnv.New64a()
	_ = json.NewEncoder(h).Encode(svc)
	_, _ = h.Write([]byte(ttl.String()))
	return h.Sum64()
}
