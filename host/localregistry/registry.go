// Package localregistry is the embedded registry: a directory of small JSON files that every
// microhost process on one machine shares, so services find each other with no set-up.
//
// Layout: DIR/<escaped service name>/<escaped node id>.json, one file per node, each holding
// the service record with that one node and the time it expires. Writers replace a file
// atomically (write a temporary file, then rename it into place), so concurrent writers never
// leave a torn entry and readers never see one. Entries past their expiry are ignored and
// removed by later writers.
package localregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/microhost/microhost/abi"
)

// Registry is an embedded registry rooted at a directory.
type Registry struct {
	dir string
	now func() time.Time
}

// DefaultDir is the registry directory used when none is configured.
func DefaultDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "microhost", "registry")
}

// New returns a registry rooted at dir (DefaultDir when empty), creating the directory.
func New(dir string) (*Registry, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local registry: %w", err)
	}
	return &Registry{dir: dir, now: time.Now}, nil
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
