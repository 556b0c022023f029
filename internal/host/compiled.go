package host

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
)

// digestSet is a set of module digests, safe for concurrent use.
type digestSet struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]bool
}

// add records sum and reports whether it was already in the set.
func (s *digestSet) add(sum [sha256.Size]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[[sha256.Size]byte]bool{}
	}
	was := s.seen[sum]
	s.seen[sum] = true
	return was
}

// has reports whether sum is in the set.
func (s *digestSet) has(sum [sha256.Size]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[sum]
}

// digestOf is the SHA-256 of a module's bytes, the digest the service reports.
func digestOf(wasm []byte) ([sha256.Size]byte, string) {
	sum := sha256.Sum256(wasm)
	return sum, hex.EncodeToString(sum[:])
}

// compile-cache hit detection: a module compiled before in this process is in wazero's
// in-memory cache; otherwise a load that added no file to the on-disk cache found its code
// there. Loads running at once in other processes sharing the directory can blur the
// second test, which is why it is only reported, never acted on.

// cacheFiles counts the files of the on-disk cache (wazero keeps one folder per version and
// platform, one file per compiled module).
func (r *Runtime) cacheFiles() int {
	if r.cacheDir == "" {
		return -1
	}
	n := 0
	dirs, err := os.ReadDir(r.cacheDir)
	if err != nil {
		return -1
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(r.cacheDir, d.Name()))
		if err == nil {
			n += len(files)
		}
	}
	return n
}

// seenBefore records sum as compiled in this process and reports whether it was already.
func (r *Runtime) seenBefore(sum [sha256.Size]byte) bool { return r.compiled.add(sum) }
