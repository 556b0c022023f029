package component

import (
	"os"
	"sync"
	"time"
)

// prefetched holds the digests of module files hashed ahead of Choose (see Prefetch), each
// with the size and modification time the file had when it was read.
type prefetched struct {
	mu      sync.Mutex
	pending map[string]*prefetch
}

type prefetch struct {
	size    int64
	modTime time.Time
	done    chan struct{}
	digest  string
	err     error
}

// Prefetch starts hashing the module files at paths, each on a goroutine of its own, so
// that a service whose components run in mode auto hashes them alongside its other start-up
// work (loading its handlers) instead of one after another as each component's turn comes.
// Choose takes a file's digest from here once, if the file has kept its size and
// modification time; otherwise it hashes the file itself. A file that cannot be read is
// skipped. A nil Catalogue prefetches nothing.
func (c *Catalogue) Prefetch(paths ...string) {
	if c == nil {
		return
	}
	c.pre.mu.Lock()
	defer c.pre.mu.Unlock()
	if c.pre.pending == nil {
		c.pre.pending = map[string]*prefetch{}
	}
	for _, path := range paths {
		if _, ok := c.pre.pending[path]; ok || path == "" {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		p := &prefetch{size: fi.Size(), modTime: fi.ModTime(), done: make(chan struct{})}
		c.pre.pending[path] = p
		go func() {
			defer close(p.done)
			p.digest, p.err = Digest(path)
		}()
	}
}

// digest returns the SHA-256 of the file at path: the prefetched one, taken once, while the
// file is unchanged, else a fresh one.
func (c *Catalogue) digest(path string) (string, error) {
	c.pre.mu.Lock()
	p := c.pre.pending[path]
	delete(c.pre.pending, path)
	c.pre.mu.Unlock()
	if p != nil {
		<-p.done
		if fi, err := os.Stat(path); p.err == nil && err == nil && fi.Size() == p.size && fi.ModTime().Equal(p.modTime) {
			return p.digest, nil
		}
	}
	return Digest(path)
}
