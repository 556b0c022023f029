// Package registrycache keeps services' registrations in memory for the client pipeline.
//
// The first lookup of a name asks the registry and starts a watch of that name: a loop of
// blocking Watch calls that replaces the cached registrations as soon as the registry
// reports a change (for Consul, a blocking query that returns on the change itself). Later
// lookups are served from memory. When an entry is older than the TTL (the watch has not
// answered for that long) a lookup asks the registry again. When the registry cannot be
// reached the cache keeps serving the last registrations it saw, logging the outage once when
// it starts and once when it ends.
//
// A registry that comes back after an outage, or restarts (its watch index goes backwards),
// may answer before its services have registered again — a Consul agent in dev mode comes
// back empty. For a grace period after that, an answer with no nodes for a name that had
// nodes does not replace them; answers with nodes always do.
package registrycache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/microhost/microhost/abi"
)

// Source is the registry the cache reads.
type Source interface {
	GetService(ctx context.Context, name string) ([]*abi.Service, error)
	// Watch blocks until the registrations of name differ from those index stands for (0
	// answers at once) or a wait bound passes, and returns the current ones and the next
	// index.
	Watch(ctx context.Context, name string, index uint64) ([]*abi.Service, uint64, error)
}

// Options configure a Cache.
type Options struct {
	// TTL is how old an entry may get before a lookup asks the registry again instead of
	// trusting the watch. Zero means one minute.
	TTL time.Duration
	// Idle stops watching a name nobody has looked up for this long. Zero means ten minutes.
	Idle time.Duration
	// RetryMin and RetryMax bound the back-off between failed watch calls. Zero means 50 ms
	// and 2 s.
	RetryMin, RetryMax time.Duration
	// RecoveryGrace is how long after the registry recovers an empty answer is not trusted
	// over known nodes. Zero means 15 s, the default registration interval, within which
	// every live service has registered again.
	RecoveryGrace time.Duration
	// Logger receives outage and recovery records. Nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache serves registrations from memory. It is safe for concurrent use; Close it to stop
// its watches.
type Cache struct {
	src    Source
	opts   Options
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*entry
	// down is true while the registry is unreachable, so the outage is logged once.
	down bool
	// failures counts failed contacts. An answer to a call that began before the last
	// failure is stale news: it does not end the outage.
	failures uint64
	// recovered is when the registry last came back or restarted.
	recovered time.Time
}

// entry is one name's cached registrations.
type entry struct {
	have     bool // a lookup or watch has answered
	services []*abi.Service
	fetched  time.Time
	lastUsed time.Time
	updates  uint64
}

// New returns a Cache reading src.
func New(src Source, opts Options) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = time.Minute
	}
	if opts.Idle <= 0 {
		opts.Idle = 10 * time.Minute
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 50 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 2 * time.Second
	}
	if opts.RecoveryGrace <= 0 {
		opts.RecoveryGrace = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{src: src, opts: opts, logger: logger, ctx: ctx, cancel: cancel, entries: map[string]*entry{}}
}

// GetService returns name's registrations: from memory when the cache holds a fresh entry,
// otherwise from the registry — or, when the registry cannot be reached, the last ones seen.
// It returns an error wrapping abi.ErrServiceNotFound when no node is registered. The
// returned records are shared: do not modify them.
func (c *Cache) GetService(ctx context.Context, name string) ([]*abi.Service, error) {
	now := c.opts.Now()
	c.mu.Lock()
	e, ok := c.entries[name]
	if !ok {
		e = &entry{}
		c.entries[name] = e
		c.startWatch(name, e)
	}
	e.lastUsed = now
	have, svcs, fresh := e.have, e.services, now.Sub(e.fetched) < c.opts.TTL
	since := c.failures
	c.mu.Unlock()
	if have && fresh {
		return found(name, svcs)
	}
	got, err := c.src.GetService(ctx, name)
	switch {
	case err == nil:
		return found(name, c.store(name, e, got, false, since))
	case errors.Is(err, abi.ErrServiceNotFound):
		if kept := c.store(name, e, nil, false, since); len(kept) > 0 {
			return kept, nil
		}
		return nil, err
	case have:
		c.outage(err)
		return found(name, svcs)
	}
	c.outage(err)
	return nil, err
}

func found(name string, svcs []*abi.Service) ([]*abi.Service, error) {
	if hasNodes(svcs) {
		return svcs, nil
	}
	return nil, fmt.Errorf("%w: %s", abi.ErrServiceNotFound, name)
}

// store replaces an entry's registrations, unless the answer is empty, the entry has nodes
// and the registry recovered or restarted within the grace period. It marks the registry
// reachable, unless the call answered began before the last failure (since is the count of
// failures when it began), and returns the registrations the entry now holds.
func (c *Cache) store(name string, e *entry, svcs []*abi.Service, restarted bool, since uint64) []*abi.Service {
	now := c.opts.Now()
	c.mu.Lock()
	recovered := false
	if since == c.failures {
		recovered = c.down
		c.down = false
	}
	if recovered || restarted {
		c.recovered = now
	}
	keep := !hasNodes(svcs) && hasNodes(e.services) && now.Sub(c.recovered) < c.opts.RecoveryGrace
	if !keep {
		e.services = svcs
	}
	e.have, e.fetched = true, now
	e.updates++
	held := e.services
	c.mu.Unlock()
	if recovered {
		c.logger.Info("registry reachable again; cache refreshed", "service", name)
	}
	return held
}

func hasNodes(svcs []*abi.Service) bool {
	for _, s := range svcs {
		if len(s.Nodes) > 0 {
			return true
		}
	}
	return false
}

// outage records a failure to reach the registry; only the first of an outage is logged.
func (c *Cache) outage(err error) {
	c.mu.Lock()
	first := !c.down
	c.down = true
	c.failures++
	c.mu.Unlock()
	if first {
		c.logger.Warn("registry unreachable; serving cached registrations", "err", err)
	}
}

// startWatch runs the watch loop of name. c.mu is held.
func (c *Cache) startWatch(name string, e *entry) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.watch(name, e)
	}()
}

func (c *Cache) watch(name string, e *entry) {
	var index uint64
	retry := c.opts.RetryMin
	for c.ctx.Err() == nil {
		c.mu.Lock()
		idle := c.opts.Now().Sub(e.lastUsed) > c.opts.Idle
		if idle {
			delete(c.entries, name)
		}
		since := c.failures
		c.mu.Unlock()
		if idle {
			return
		}
		svcs, next, err := c.src.Watch(c.ctx, name, index)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.outage(err)
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(retry*2, c.opts.RetryMax)
			continue
		}
		retry = c.opts.RetryMin
		restarted := index > 1 && next < index
		index = next
		c.store(name, e, svcs, restarted, since)
	}
}

// Updates returns how many times name's entry has been refreshed, for tests and metrics.
func (c *Cache) Updates(name string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[name]; ok {
		return e.updates
	}
	return 0
}

// Close stops every watch and waits for them. It is safe to call more than once.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
}

// isDown reports whether the last contact with the registry failed.
func (c *Cache) isDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}
