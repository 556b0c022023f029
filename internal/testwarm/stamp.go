package testwarm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// With warm caches testwarm only checks them, and the check was most of its time: each of
// some thirty modules loaded twice from the compilation cache, which decodes and validates
// every one. A stamp written after a run's compilations records the modules they were of and
// every file the compilation cache then held, for this build of testwarm (another build, of
// another wazero or host, may compile other code); while the same build wants the same
// modules and every one of those files is still there, with its size, the code the suite
// needs is still cached (the cache's prune, or a user, removes whole files), and the next run
// skips the loads.

// stamp is what a run compiled, and the compilation cache as it left it.
type stamp struct {
	// Build is the SHA-256, in hex, of the testwarm binary that wrote it.
	Build string `json:"build"`
	// Modules are the SHA-256 digests, in hex, of the modules compiled, sorted.
	Modules []string `json:"modules"`
	// Cache maps each file of the compilation cache, relative to its folder, to its size.
	Cache map[string]int64 `json:"cache"`
}

// wanted returns the sorted digests of the guests' modules.
func wanted(gs []guest) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		sum := sha256.Sum256(g.wasm)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cacheFiles lists the regular files under dir with their sizes, relative to dir.
func cacheFiles(dir string) (map[string]int64, error) {
	files := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[rel] = info.Size()
		return nil
	})
	return files, err
}

// thisBuild returns the SHA-256, in hex, of the running binary; "" when it cannot be read.
func thisBuild() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeStamp records, in file, that build compiled the modules of digests want into the
// cache at cacheDir, as the cache is now.
func writeStamp(file, build string, want []string, cacheDir string) error {
	files, err := cacheFiles(cacheDir)
	if err != nil {
		return err
	}
	b, err := json.Marshal(stamp{Build: build, Modules: want, Cache: files})
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// stampHolds reports whether the stamp in file vouches for the modules of digests want: build
// wrote it, it records exactly those modules, and every cache file it lists is still in
// cacheDir with its size.
func stampHolds(file, build string, want []string, cacheDir string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var st stamp
	if json.Unmarshal(b, &st) != nil || build == "" || st.Build != build || !slices.Equal(st.Modules, want) || len(st.Cache) == 0 {
		return false
	}
	for rel, size := range st.Cache {
		info, err := os.Stat(filepath.Join(cacheDir, rel))
		if err != nil || info.Size() != size {
			return false
		}
	}
	return true
}
