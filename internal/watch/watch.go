// Package watch reports when module files are complete after a change. Writers copy, rename
// or write a file in pieces; a change is reported only once the file has been quiet for a
// while and its size and modification time held still between two looks.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Change is one file that changed and is now complete, or was removed.
type Change struct {
	// Path is the file, as given to New.
	Path string
	// Removed reports that the file is gone.
	Removed bool
}

// Options configure a Watcher.
type Options struct {
	// Quiet is how long a file must see no event before it is looked at; zero means 100 ms.
	Quiet time.Duration
	// Settle is the pause between the two looks at the file's size and modification time;
	// zero means 50 ms.
	Settle time.Duration
	// Logger receives the watcher's own problems; nil discards them.
	Logger *slog.Logger
}

// Watcher watches a set of files through their folders (a file replaced by a rename keeps
// being watched) and sends each complete change on C.
type Watcher struct {
	opts  Options
	paths map[string]bool
	fsw   *fsnotify.Watcher
	c     chan Change

	mu     sync.Mutex
	timers map[string]*time.Timer
}

// New watches the files at paths. Close it to stop.
func New(paths []string, opts Options) (*Watcher, error) {
	if opts.Quiet <= 0 {
		opts.Quiet = 100 * time.Millisecond
	}
	if opts.Settle <= 0 {
		opts.Settle = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{opts: opts, paths: map[string]bool{}, fsw: fsw, c: make(chan Change, 64), timers: map[string]*time.Timer{}}
	dirs := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		w.paths[p] = true
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		// A folder that does not exist holds no file to swap; it is not watched.
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			opts.Logger.Debug("not watched: no such folder", "dir", d)
			continue
		}
		if err := fsw.Add(d); err != nil {
			_ = fsw.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		}
	}
	return w, nil
}

// C delivers the changes.
func (w *Watcher) C() <-chan Change { return w.c }

// Run turns the folders' events into changes until ctx is done or the watcher is closed.
func (w *Watcher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			p := filepath.Clean(ev.Name)
			if w.paths[p] {
				w.schedule(ctx, p)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.opts.Logger.Warn("watching module files", "err", err)
		}
	}
}

// schedule (re)starts the quiet period of p.
func (w *Watcher) schedule(ctx context.Context, p string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.timers[p]; ok {
		t.Reset(w.opts.Quiet)
		return
	}
	w.timers[p] = time.AfterFunc(w.opts.Quiet, func() { w.settle(ctx, p) })
}

// settle looks at p twice; when it held still, the change is sent, else p waits again.
func (w *Watcher) settle(ctx context.Context, p string) {
	first, err1 := os.Stat(p)
	select {
	case <-ctx.Done():
		return
	case <-time.After(w.opts.Settle):
	}
	second, err2 := os.Stat(p)
	w.mu.Lock()
	switch {
	case errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist):
	case err1 != nil || err2 != nil || first.Size() != second.Size() || !first.ModTime().Equal(second.ModTime()):
		if t, ok := w.timers[p]; ok {
			t.Reset(w.opts.Quiet)
		} else {
			w.timers[p] = time.AfterFunc(w.opts.Quiet, func() { w.settle(ctx, p) })
		}
		w.mu.Unlock()
		return
	}
	delete(w.timers, p)
	w.mu.Unlock()
	select {
	case w.c <- Change{Path: p, Removed: err2 != nil}:
	case <-ctx.Done():
	}
}

// Close stops watching.
func (w *Watcher) Close() error {
	w.mu.Lock()
	for _, t := range w.timers {
		t.Stop()
	}
	w.mu.Unlock()
	return w.fsw.Close()
}
