// Package localregistry is the embedded registry: a directory of small JSON files that every
// microhost process on one machine shares, so services find each other with no set-up.
//
// Layout: DIR/<escaped service name>/<escaped node id>.json, one file per node, each holding
// the service record with that one node and the time it expires. Writers replace a file
// atomically (write a temporary file, then rename it into place), so concurrent writers never
// leave a torn entry and readers never see one. Entries past their expiry are ignored and
// removed by later writers.
//
// The package is compiled two ways: into the local-registry.wasm plugin (wasm/), where the
// directory is the WASI mount /registry and is the only file access the module has, and
// unchanged into the host as the native twin. It uses nothing but paths and the os package,
// which work alike under both.
package localregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
)

// Defaults of Watch.
const (
	// DefaultWatchWait bounds one Watch call.
	DefaultWatchWait = 30 * time.Second
	// DefaultPollInterval is how often Watch looks at the directory.
	DefaultPollInterval = 100 * time.Millisecond
)

// Options configure a Registry.
type Options struct {
	// WatchWait bounds one Watch call. Zero means DefaultWatchWait.
	WatchWait time.Duration
	// PollInterval is how often Watch looks for a change. Zero means DefaultPollInterval.
	PollInterval time.Duration
}

// Registry is an embedded registry rooted at a directory.
type Registry struct {
	dir  string
	opts Options
	now  func() time.Time
}

// New returns a registry rooted at dir, creating the directory.
func New(dir string, opts Options) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("local registry: no directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local registry: %w", err)
	}
	if opts.WatchWait <= 0 {
		opts.WatchWait = DefaultWatchWait
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	return &Registry{dir: dir, opts: opts, now: time.Now}, nil
}

// Dir returns the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// entry is the content of one node's file.
type entry struct {
	Service abi.Service `json:"service"`
	Expires time.Time   `json:"expires"`
}

func (r *Registry) serviceDir(name string) string {
	return filepath.Join(r.dir, url.PathEscape(name))
}

// Register writes (or refreshes) one file per node of svc, each valid for ttl.
func (r *Registry) Register(ctx context.Context, svc *abi.Service, ttl time.Duration) error {
	if svc.Name == "" {
		return errors.New("local registry: register: service has no name")
	}
	dir := r.serviceDir(svc.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("local registry: register %s: %w", svc.Name, err)
	}
	for _, node := range svc.Nodes {
		one := *svc
		one.Nodes = []abi.Node{node}
		b, err := json.Marshal(entry{Service: one, Expires: r.now().Add(ttl)})
		if err != nil {
			return fmt.Errorf("local registry: register %s: %w", svc.Name, err)
		}
		if err := writeAtomic(dir, url.PathEscape(node.ID)+".json", b); err != nil {
			return fmt.Errorf("local registry: register %s node %s: %w", svc.Name, node.ID, err)
		}
	}
	return nil
}

func writeAtomic(dir, name string, b []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// Deregister removes the files of svc's nodes.
func (r *Registry) Deregister(ctx context.Context, svc *abi.Service) error {
	dir := r.serviceDir(svc.Name)
	var errs []error
	for _, node := range svc.Nodes {
		err := os.Remove(filepath.Join(dir, url.PathEscape(node.ID)+".json"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local registry: deregister %s: %w", svc.Name, err)
	}
	return nil
}

// GetService returns the live registrations of name, one Service per version, each with its
// nodes. It returns an error wrapping abi.ErrServiceNotFound when there are none.
func (r *Registry) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	files, err := os.ReadDir(r.serviceDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("local registry: get %s: %w", name, err)
	}
	byVersion := map[string]*abi.Service{}
	var versions []string
	now := r.now()
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		path := filepath.Join(r.serviceDir(name), f.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue // removed between the listing and the read
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil || e.Service.Name != name {
			continue
		}
		if !e.Expires.After(now) {
			_ = os.Remove(path)
			continue
		}
		svc, ok := byVersion[e.Service.Version]
		if !ok {
			cp := e.Service
			cp.Nodes = nil
			svc = &cp
			byVersion[e.Service.Version] = svc
			versions = append(versions, e.Service.Version)
		}
		svc.Nodes = append(svc.Nodes, e.Service.Nodes...)
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
	}
	sort.Strings(versions)
	out := make([]*abi.Service, len(versions))
	for i, v := range versions {
		svc := byVersion[v]
		sort.Slice(svc.Nodes, func(a, b int) bool { return svc.Nodes[a].ID < svc.Nodes[b].ID })
		out[i] = svc
	}
	return out, nil
}

// ListServices returns the names of services with at least one live node, sorted.
func (r *Registry) ListServices(ctx context.Context) ([]string, error) {
	dirs, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("local registry: list: %w", err)
	}
	var names []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name, err := url.PathUnescape(d.Name())
		if err != nil {
			continue
		}
		if _, err := r.GetService(ctx, name); err == nil {
			names = append(names, name)
		}
	}
	return names, nil
}

// Watch blocks until the live registrations of name differ from those index stands for (a
// value an earlier Watch returned; 0 answers at once), or until the wait bound passes, and
// returns the current registrations (empty when none is live) and the index to pass next. It
// polls the directory; an index is a fingerprint of what it found.
func (r *Registry) Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error) {
	if name == "" {
		return nil, index, errors.New("local registry: watch: no service name")
	}
	deadline := time.Now().Add(r.opts.WatchWait)
	for {
		svcs, err := r.GetService(ctx, name)
		if err != nil && !errors.Is(err, abi.ErrServiceNotFound) {
			return nil, index, fmt.Errorf("local registry: watch %s: %w", name, err)
		}
		fp := fingerprint(svcs)
		if fp != index || !time.Now().Add(r.opts.PollInterval).Before(deadline) {
			return svcs, fp, nil
		}
		t := time.NewTimer(r.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, index, fmt.Errorf("local registry: watch %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// fingerprint hashes a lookup's result; it is never 0, the index that answers at once.
func fingerprint(svcs []*abi.Service) uint64 {
	h := fnv.New64a()
	_ = json.NewEncoder(h).Encode(svcs)
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1
}
