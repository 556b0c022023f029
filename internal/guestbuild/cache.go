package guestbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// throughCache makes out through the cache folder (see CacheDir): the entry for key is copied
// to out when there is one; otherwise build writes out, which is then stored under key. An
// empty key (its inputs could not be read) or no cache folder just builds.
func throughCache(key, out string, build func() error) error {
	cache := CacheDir()
	if key != "" && cache != "" {
		entry := filepath.Join(cache, key+".wasm")
		if err := copyFile(entry, out); err == nil {
			now := time.Now()
			_ = os.Chtimes(entry, now, now) // in use: not pruned
			return nil
		}
	}
	if err := build(); err != nil {
		return err
	}
	if key != "" && cache != "" {
		store(cache, key, out)
	}
	return nil
}

// inputKey hashes what a build by another toolchain depends on: kind (which builder), what
// the tool says of its version (the output of tool with versionArgs), the flags, and every
// file under each of inputs (a file or a folder, walked in order, node_modules and dot
// folders left out), each named relative to root so that where the checkout is does not
// matter. It returns "" when something could not be read: that build is not cached.
func inputKey(ctx context.Context, kind, root, tool string, versionArgs, flags []string, inputs ...string) string {
	version, err := exec.CommandContext(ctx, tool, versionArgs...).Output()
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", kind, version, strings.Join(flags, " "))
	for _, in := range inputs {
		err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && p != in && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")):
				return filepath.SkipDir
			case d.IsDir():
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			name := p
			if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
				name = rel
			}
			fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(name), len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return ""
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
