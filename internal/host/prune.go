package host

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DefaultCacheMaxBytes bounds the on-disk compilation cache when Options.CacheMaxBytes is
// zero. A Go module compiles to tens of megabytes, and every rebuild (each save under
// `microhost dev`) is a new entry, so an unbounded cache grows by gigabytes.
const DefaultCacheMaxBytes = 2 << 30

// pruneKeep is how recent an entry must be to stay whatever the cache's size: what the
// processes of the last day compiled (a test suite's modules, a dev session's builds) is
// likely needed again soon, and removing it from under them would only make them compile it
// again.
const pruneKeep = 24 * time.Hour

// pruneCache keeps the compilation cache in dir under max bytes: when it holds more, the
// entries written longest ago are removed until it holds three quarters of max, so that
// pruning is rare — but none written within pruneKeep of now. The cache is wazero's: a folder
// per wazero version and platform, a file per compiled module. A removed entry costs one
// compilation the next time it is needed; a file another process removes first, or is still
// writing, is skipped.
func pruneCache(dir string, max int64, now time.Time, logger *slog.Logger) {
	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var entries []entry
	var total int64
	subdirs, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, sd := range subdirs {
		if !sd.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, sd.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			entries = append(entries, entry{filepath.Join(dir, sd.Name(), f.Name()), info.Size(), info.ModTime()})
			total += info.Size()
		}
	}
	if total <= max {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mod.Compare(b.mod) })
	goal := max / 4 * 3
	removed, freed := 0, int64(0)
	for _, e := range entries {
		if total <= goal || now.Sub(e.mod) < pruneKeep {
			break
		}
		if os.Remove(e.path) == nil {
			total -= e.size
			removed++
			freed += e.size
		}
	}
	if removed > 0 {
		// At debug level: every command starts a Runtime, and a one-shot command's output
		// is not the place for cache housekeeping.
		logger.Debug("compilation cache pruned", "dir", dir, "removed", removed, "freed_mb", freed>>20, "kept_mb", total>>20)
	}
}
